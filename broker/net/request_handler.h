#pragma once
// Request handling: one verified Frame in, a reply (now or once storage
// completes) out. One function per request kind; HandleFrame only routes.
// Every field is null-checked here even after verification: a frame that
// lacks a required field is a protocol violation (MalformedFrame, then the
// connection closes); a field with a bad value gets an error reply and the
// connection stays open.
//
// Thread: the broker's I/O thread.

#include <cstdint>

#include "broker/state/broker_context.h"
#include "schemas/frame.h"

namespace herald::broker {

class Session;

void HandleFrame(Session& session, BrokerContext& ctx, const wire::Frame& frame);

// handle_publish.cc
void HandlePublish(Session& session, BrokerContext& ctx, uint64_t request_id,
                   const wire::Publish& request);
// handle_topics.cc
void HandleCreateTopic(Session& session, BrokerContext& ctx, uint64_t request_id,
                       const wire::CreateTopic& request);
void HandleDeleteTopic(Session& session, BrokerContext& ctx, uint64_t request_id,
                       const wire::DeleteTopic& request);
void HandleDescribeTopic(Session& session, BrokerContext& ctx, uint64_t request_id,
                         const wire::DescribeTopic& request);
void HandleAlterTopic(Session& session, BrokerContext& ctx, uint64_t request_id,
                      const wire::AlterTopic& request);
void HandlePurgeTopic(Session& session, BrokerContext& ctx, uint64_t request_id,
                      const wire::PurgeTopic& request);
// handle_list_topics.cc
void HandleListTopics(Session& session, BrokerContext& ctx, uint64_t request_id,
                      const wire::ListTopics& request);
// handle_groups.cc
void HandleDescribeGroup(Session& session, BrokerContext& ctx, uint64_t request_id,
                         const wire::DescribeGroup& request);
void HandleResetGroup(Session& session, BrokerContext& ctx, uint64_t request_id,
                      const wire::ResetGroup& request);
void HandleDeleteGroup(Session& session, BrokerContext& ctx, uint64_t request_id,
                       const wire::DeleteGroup& request);
// handle_fetch.cc
void HandleFetch(Session& session, BrokerContext& ctx, uint64_t request_id,
                 const wire::Fetch& request);
// handle_status.cc
void HandleGetStatus(Session& session, BrokerContext& ctx, uint64_t request_id);
// handle_subscriptions.cc
void HandleSubscribe(Session& session, BrokerContext& ctx, uint64_t request_id,
                     const wire::Subscribe& request);
void HandleUnsubscribe(Session& session, BrokerContext& ctx, uint64_t request_id,
                       const wire::Unsubscribe& request);
void HandleAck(Session& session, BrokerContext& ctx, uint64_t request_id, const wire::Ack& request);
void HandleNack(Session& session, BrokerContext& ctx, uint64_t request_id,
                const wire::Nack& request);
void HandleExtendDeadline(Session& session, BrokerContext& ctx, uint64_t request_id,
                          const wire::ExtendDeadline& request);

}  // namespace herald::broker
