// Publish: check the producer's record batch, hand its bytes to the store
// as they came, reply once they are durable, then let the topic's
// groups see them.

#include <chrono>
#include <limits>

#include <fmt/format.h>

#include "broker/metrics/broker_metrics.h"
#include "broker/net/handler_support.h"
#include "broker/net/publish_measure.h"
#include "broker/net/request_handler.h"
#include "broker/net/session.h"
#include "schemas/record_batch.h"
#include "schemas/names.h"

namespace herald::broker {

namespace {

// The reply to a publish the store's writer finished with, on the I/O thread.
struct StoredPublish {
  uint64_t request_id = 0;
  uint64_t topic_id = 0;
  uint32_t count = 0;
  std::size_t held = 0;  // BeginRequest's bytes
  std::chrono::steady_clock::time_point received;
};

void ReplyPublished(Session& session, BrokerContext& ctx, const StoredPublish& p, AppendResult result) {
  if (!result.status.ok()) {
    session.SendError(p.request_id, result.status, wire::Body::Publish);
    return;
  }
  if (result.batch) {
    // The topic may have been deleted (and another made) meanwhile.
    if (Topic* topic = ctx.registry.FindById(p.topic_id)) topic->OnAppended(result.batch);
    if (ctx.metrics != nullptr) {
      auto& counters = ctx.metrics->topics[p.topic_id];
      counters.messages_in += p.count;
      counters.bytes_in += result.batch->bytes().size();
    }
  }
  if (ctx.metrics != nullptr) {
    ctx.metrics->publish_to_ack.Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - p.received).count());
  }
  session.Send(wire::EncodeSmallFrame(p.request_id, [&](flatbuffers::FlatBufferBuilder& fbb) {
    return wire::CreatePublishOk(fbb, result.base_offset, p.count, result.duplicate);
  }));
}

}  // namespace

void HandlePublish(Session& session, BrokerContext& ctx, uint64_t request_id,
                   const wire::Publish& request) {
  const auto* batch = request.batch();
  if (request.topic() == nullptr || batch == nullptr) {
    session.FailAndClose(request_id,
                         {wire::ErrorCode::MalformedFrame, "Publish needs a topic and a batch"});
    return;
  }
  // The batch first: a client that sends a corrupt one is broken, whatever
  // else its Publish says.
  uint32_t count = 0;
  const PublishLimits limits{ctx.config.max_payload_bytes, ctx.config.max_publish_bytes,
                             ctx.config.max_publish_messages};
  if (Status s = CheckPublishBatch(wire::AsStringView(batch), limits, &count); !s.ok()) {
    if (s.code() == wire::ErrorCode::MalformedFrame) return session.FailAndClose(request_id, s);
    return session.SendError(request_id, s);
  }
  std::string name = request.topic()->str();
  if (!wire::IsValidName(name)) {
    session.SendError(request_id, {wire::ErrorCode::InvalidTopicName,
                                   fmt::format("'{}' is not a valid topic name", name)});
    return;
  }
  if (!Authorize(session, request_id, Permission::kPublish, name, "publish")) return;
  Topic* topic = ctx.registry.Find(name);
  if (topic == nullptr) {
    session.SendError(request_id,
                      {wire::ErrorCode::TopicNotFound, fmt::format("no topic '{}'", name)});
    return;
  }
  if (request.producer_id() != 0 && request.base_sequence() == 0) {
    session.SendError(request_id,
                      {wire::ErrorCode::InvalidArgument, "sequences start at 1 with a producer id"});
    return;
  }
  // The last sequence of the batch must fit: a wrapped one would be stored
  // below base_sequence and make every later batch of the producer look new.
  if (request.producer_id() != 0 &&
      request.base_sequence() > std::numeric_limits<uint64_t>::max() - (count - 1)) {
    session.SendError(request_id, {wire::ErrorCode::InvalidArgument,
                                   "the batch's last sequence is above 2^64-1"});
    return;
  }
  // Claimed last: a batch refused by the checks above binds no producer id.
  if (request.producer_id() != 0) {
    if (Status claim = session.ClaimProducerId(request.producer_id()); !claim.ok()) {
      // Closing on a conflict keeps the producer's order: nothing this
      // connection pipelined behind the refused batch is stored before it.
      if (claim.code() == wire::ErrorCode::ProducerIdInUse) return session.FailAndClose(request_id, claim);
      return session.SendError(request_id, claim);
    }
  }

  AppendRequest append;
  append.topic_id = topic->id();
  append.producer_id = request.producer_id();
  append.base_sequence = request.base_sequence();
  append.count = count;
  // The one copy the broker makes of a message: out of the frame, which the
  // session's receive buffer reuses, into the bytes the log keeps.
  append.batch.assign(reinterpret_cast<const char*>(batch->data()), batch->size());
  // The broker's fields are the broker's: whatever the producer put there,
  // the store's writer writes the offset and, for 0, the time of the commit.
  wire::batch::SetBrokerFields(append.batch.data(), 0, 0);
  const std::size_t held = append.batch.size();

  session.BeginRequest(held);
  StoredPublish stored{request_id, topic->id(), count, held, std::chrono::steady_clock::now()};
  // The store's writer (the storage thread, or this thread's inline commit),
  // then the I/O thread, which owns sessions and topics, through the one
  // ordered handoff: no allocation on the way.
  ctx.store.Append(std::move(append), [self = session.Self(), &ctx, stored](AppendResult result) mutable {
    ctx.storage_completions.Post([self = std::move(self), &ctx, stored, result = std::move(result)]() mutable {
      ReplyPublished(*self, ctx, stored, std::move(result));
      self->EndRequest(stored.held);
    });
  });
}

}  // namespace herald::broker
