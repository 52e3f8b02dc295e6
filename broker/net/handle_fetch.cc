// Fetch: read a stretch of a topic's log without a group, for peeking,
// replay by offset or time, and tailing. Nothing is acked or moved.

#include <algorithm>

#include <fmt/format.h>

#include "broker/net/handler_support.h"
#include "broker/net/request_handler.h"
#include "broker/net/session.h"

namespace herald::broker {

namespace {
constexpr uint32_t kDefaultFetchMessages = 100;
constexpr uint32_t kMaxFetchMessages = 10'000;
constexpr uint32_t kDefaultFetchBytes = 1u << 20;

Status TopicDeleted() { return {wire::ErrorCode::TopicNotFound, "topic was deleted"}; }

void SendFetchOk(Session& session, uint64_t request_id, Topic& topic, uint64_t from,
                 const std::vector<MessageRef>& messages) {
  flatbuffers::FlatBufferBuilder fbb(4096);
  std::vector<wire::DeliveredRecord> table;
  DeliveredRecords built = BuildDeliveredRecords(
      fbb, std::span<const MessageRef>(messages), [](const MessageRef& m) -> const MessageRef& { return m; },
      [](const MessageRef&) { return uint32_t{0}; }, &table);
  uint64_t next = messages.empty() ? std::max(from, topic.log().earliest()) : messages.back().offset() + 1;
  session.Send(wire::FinishFrame(
      fbb, request_id,
      wire::CreateFetchOk(fbb, topic.log().earliest(), topic.log().end(), next, built.records,
                          built.entries)));
}

// Reads the fetch's messages and replies. What memory holds is read at once;
// the rest (a fetch of old messages) on a reader thread, replied to when it
// is back.
void ReadAndReply(Session& session, BrokerContext& ctx, uint64_t request_id, Topic& topic,
                  uint64_t from, uint32_t max_messages, std::size_t max_bytes) {
  std::vector<MessageRef> messages;
  std::size_t bytes = 0;
  if (topic.log().ReadCached(from, max_messages, max_bytes, &messages)) {
    for (const MessageRef& m : messages) bytes += m.record().payload.size();
    const uint64_t next = messages.empty() ? from : messages.back().offset() + 1;
    // Memory held all it asked for, or the log ends there.
    if (messages.size() >= max_messages || bytes >= max_bytes || next >= topic.log().end()) {
      return SendFetchOk(session, request_id, topic, from, messages);
    }
    // The rest is not in memory: read it with the others.
  }
  const uint64_t rest_from = messages.empty() ? from : messages.back().offset() + 1;
  const std::size_t rest_messages = max_messages - messages.size();
  const std::size_t rest_bytes = max_bytes - bytes;
  session.BeginRequest(0);
  topic.log().ReadLater(rest_from, rest_messages, rest_bytes,
                        [self = session.Self(), &ctx, request_id, topic_id = topic.id(), from,
                         messages = std::move(messages)](Status s, std::vector<MessageRef> rest) mutable {
    self->EndRequest(0);
    if (self->closed()) return;
    if (!s.ok()) return self->SendError(request_id, s, wire::Body::Fetch);
    Topic* now = ctx.registry.FindById(topic_id);
    if (now == nullptr) return self->SendError(request_id, TopicDeleted(), wire::Body::Fetch);
    // A truncation since the cached part was read may have moved the rest
    // past it: the reply is the rest alone then, so that it stays contiguous.
    if (!messages.empty() && !rest.empty() && rest.front().offset() != messages.back().offset() + 1) {
      messages.clear();
    }
    for (MessageRef& m : rest) messages.push_back(std::move(m));
    SendFetchOk(*self, request_id, *now, from, messages);
  });
}

}  // namespace

void HandleFetch(Session& session, BrokerContext& ctx, uint64_t request_id, const wire::Fetch& request) {
  auto name = RequireName(session, request_id, request.topic(), NameKind::kTopic);
  if (!name) return;
  if (!Authorize(session, request_id, Permission::kSubscribe, *name, "fetch")) return;
  Topic* topic = RequireTopic(session, ctx, request_id, *name);
  if (topic == nullptr) return;
  uint32_t max_messages = request.max_messages() == 0 ? kDefaultFetchMessages : request.max_messages();
  if (max_messages > kMaxFetchMessages) {
    return session.SendError(request_id, {wire::ErrorCode::InvalidArgument,
                                          fmt::format("max_messages above {}", kMaxFetchMessages)});
  }
  // The reply must fit in a frame the client accepts: stay well below the limit.
  std::size_t max_bytes = std::min<std::size_t>(request.max_bytes() == 0 ? kDefaultFetchBytes : request.max_bytes(),
                                                ctx.config.max_frame_bytes / 2);
  session.BeginRequest(0);
  ResolveStart(ctx, *topic, request.start(), request.offset(), request.timestamp_ms(),
               [self = session.Self(), &ctx, request_id, max_messages, max_bytes](Topic* now, uint64_t from) {
    self->EndRequest(0);
    if (self->closed()) return;
    if (now == nullptr) return self->SendError(request_id, TopicDeleted(), wire::Body::Fetch);
    ReadAndReply(*self, ctx, request_id, *now, from, max_messages, max_bytes);
  });
}

}  // namespace herald::broker
