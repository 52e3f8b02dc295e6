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
  uint64_t from = ResolveStart(ctx, *topic, request.start(), request.offset(), request.timestamp_ms());

  std::vector<MessageRef> messages;
  Status s = topic->log().Read(from, max_messages, max_bytes, &messages);
  if (!s.ok()) return session.SendError(request_id, s);
  flatbuffers::FlatBufferBuilder fbb(4096);
  std::vector<wire::DeliveredRecord> table;
  DeliveredRecords built = BuildDeliveredRecords(
      fbb, std::span<const MessageRef>(messages), [](const MessageRef& m) -> const MessageRef& { return m; },
      [](const MessageRef&) { return uint32_t{0}; }, &table);
  uint64_t next = messages.empty() ? std::max(from, topic->log().earliest()) : messages.back().offset() + 1;
  session.Send(wire::FinishFrame(
      fbb, request_id,
      wire::CreateFetchOk(fbb, topic->log().earliest(), topic->log().end(), next, built.records,
                          built.entries)));
}

}  // namespace herald::broker
