// Subscriptions: join a group (creating it at its start position the first
// time), leave it, and settle deliveries with acks and nacks.

#include <asio/post.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "broker/net/handler_support.h"
#include "broker/net/request_handler.h"
#include "broker/net/session.h"
#include "schemas/names.h"

namespace herald::broker {

namespace {

constexpr std::size_t kMaxBackoffSteps = 64;  // as many as a stored group position keeps

void JoinGroup(Session& session, uint64_t request_id, const std::shared_ptr<ConsumerGroup>& group,
               uint32_t window, uint32_t ack_deadline_ms) {
  uint32_t subscription_id = session.NextSubscriptionId();
  // SubscribeOk goes out before any Deliver: the member joins after it is queued.
  flatbuffers::FlatBufferBuilder fbb(64);
  session.Send(wire::FinishFrame(fbb, request_id, wire::CreateSubscribeOk(fbb, subscription_id)));
  auto sink = session.Self();
  uint64_t member = group->AddMember(sink, subscription_id, window,
                                     std::chrono::milliseconds(ack_deadline_ms));
  session.AddSubscription(subscription_id, group, member);
}

// Creates the group at `start` and joins it once its position is stored.
// Until the write completes no member gets a message, so a crash cannot move
// a 'latest' group's start forward past messages it was promised. If another
// subscriber created the group meanwhile (while a start time was looked up),
// this one joins it.
void CreateAndJoin(Session& session, BrokerContext& ctx, uint64_t request_id, Topic& topic,
                   const std::string& topic_name, const std::string& group_name, uint64_t start_offset,
                   uint32_t window, uint32_t deadline_ms, uint32_t max_deliveries,
                   std::vector<std::chrono::milliseconds> backoff) {
  if (auto group = topic.FindGroup(group_name)) {
    group->SetPolicy(max_deliveries, std::move(backoff));
    return JoinGroup(session, request_id, group, window, deadline_ms);
  }
  GroupPosition start;
  start.ack_floor = start_offset;
  auto group = ctx.registry.NewGroup(&topic, group_name, start);
  group->SetPolicy(max_deliveries, std::move(backoff));
  start = group->Position();
  spdlog::get("broker")->info("{} created group {} of topic {} at offset {}", session.who(),
                              group_name, topic_name, start.ack_floor);
  auto self = session.Self();
  session.BeginRequest(0);
  ctx.store.PutGroup(topic.id(), group_name, start.Encode(), /*sync=*/true,
                     [self, &ctx, request_id, group, window, deadline_ms](Status s) {
    asio::post(ctx.io, [self, request_id, group, window, deadline_ms, s = std::move(s)] {
      self->EndRequest(0);
      if (self->closed()) return;
      if (!s.ok()) return self->SendError(request_id, s, wire::Body::Subscribe);
      JoinGroup(*self, request_id, group, window, deadline_ms);
    });
  });
}

}  // namespace

void HandleSubscribe(Session& session, BrokerContext& ctx, uint64_t request_id,
                     const wire::Subscribe& request) {
  auto topic_name = RequireName(session, request_id, request.topic(), NameKind::kTopic);
  if (!topic_name) return;
  auto group_name = RequireName(session, request_id, request.group(), NameKind::kGroup);
  if (!group_name) return;
  // Reading a topic as a group member needs both: the topic's messages, and the group's place.
  if (!Authorize(session, request_id, Permission::kSubscribe, *topic_name, "subscribe") ||
      !Authorize(session, request_id, Permission::kGroup, *group_name, "subscribe")) {
    return;
  }
  Topic* topic = RequireTopic(session, ctx, request_id, *topic_name);
  if (topic == nullptr) return;
  const uint32_t window = request.window(), deadline_ms = request.ack_deadline_ms();
  std::vector<std::chrono::milliseconds> backoff;
  if (const auto* steps = request.backoff_ms()) {
    if (steps->size() > kMaxBackoffSteps) {
      return session.SendError(request_id, {wire::ErrorCode::InvalidArgument,
                                            fmt::format("more than {} backoff steps", kMaxBackoffSteps)});
    }
    for (uint32_t ms : *steps) backoff.emplace_back(ms);
  }
  if (auto group = topic->FindGroup(*group_name)) {
    group->SetPolicy(request.max_deliveries(), std::move(backoff));
    return JoinGroup(session, request_id, group, window, deadline_ms);
  }

  // A new group: fix its start now (a time is looked up off the I/O thread),
  // store it durably, then join.
  session.BeginRequest(0);
  ResolveStart(ctx, *topic, request.start(), request.start_offset(), request.start_timestamp_ms(),
               [self = session.Self(), &ctx, request_id, topic_name = *topic_name, group_name = *group_name,
                window, deadline_ms, max_deliveries = request.max_deliveries(),
                backoff = std::move(backoff)](Topic* now, uint64_t start) mutable {
    self->EndRequest(0);
    if (self->closed()) return;
    if (now == nullptr) {
      return self->SendError(request_id, {wire::ErrorCode::TopicNotFound, "topic was deleted"},
                             wire::Body::Subscribe);
    }
    CreateAndJoin(*self, ctx, request_id, *now, topic_name, group_name, start, window, deadline_ms,
                  max_deliveries, std::move(backoff));
  });
}

void HandleUnsubscribe(Session& session, BrokerContext&, uint64_t request_id,
                       const wire::Unsubscribe& request) {
  spdlog::get("net")->debug("session {}: unsubscribe {}", session.id(), request.subscription_id());
  if (!session.RemoveSubscription(request.subscription_id())) {
    return session.SendError(request_id, {wire::ErrorCode::SubscriptionNotFound,
                                          fmt::format("no subscription {} on this connection",
                                                      request.subscription_id())});
  }
  session.Send(wire::EncodeOk(request_id));
}

namespace {

// The subscription (group and member) an Ack or Nack settles messages for, or
// nullptr after dealing with a request that lacks its offsets or names no
// subscription of this connection.
template <class Request>
const Session::Subscription* SubscriptionToSettle(Session& session, uint64_t request_id,
                                                  const Request& request) {
  if (request.offsets() == nullptr) {
    session.FailAndClose(request_id, {wire::ErrorCode::MalformedFrame, "Ack and Nack need offsets"});
    return nullptr;
  }
  const Session::Subscription* sub = session.FindSubscription(request.subscription_id());
  // Settlements may race an Unsubscribe; only a caller that asked for a reply hears of it.
  if (sub == nullptr && request_id != 0) {
    session.SendError(request_id, {wire::ErrorCode::SubscriptionNotFound,
                                   fmt::format("no subscription {}", request.subscription_id())});
  }
  return sub;
}

}  // namespace

void HandleAck(Session& session, BrokerContext&, uint64_t request_id, const wire::Ack& request) {
  const Session::Subscription* sub = SubscriptionToSettle(session, request_id, request);
  if (sub == nullptr) return;
  sub->group->Ack(sub->member_id, {request.offsets()->data(), request.offsets()->size()});
  if (request_id != 0) session.Send(wire::EncodeOk(request_id));
}

void HandleNack(Session& session, BrokerContext&, uint64_t request_id, const wire::Nack& request) {
  const Session::Subscription* sub = SubscriptionToSettle(session, request_id, request);
  if (sub == nullptr) return;
  const std::string_view reason = request.reason() ? request.reason()->string_view() : std::string_view();
  sub->group->Nack(sub->member_id, {request.offsets()->data(), request.offsets()->size()},
                   std::chrono::milliseconds(request.delay_ms()),
                   wire::TruncateUtf8(reason, wire::kMaxNackReasonBytes));
  if (request_id != 0) session.Send(wire::EncodeOk(request_id));
}

void HandleExtendDeadline(Session& session, BrokerContext&, uint64_t request_id,
                          const wire::ExtendDeadline& request) {
  const Session::Subscription* sub = SubscriptionToSettle(session, request_id, request);
  if (sub == nullptr) return;
  sub->group->ExtendDeadline(sub->member_id, {request.offsets()->data(), request.offsets()->size()});
  if (request_id != 0) session.Send(wire::EncodeOk(request_id));
}

}  // namespace herald::broker
