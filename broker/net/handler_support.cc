#include "broker/net/handler_support.h"

#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "broker/net/session.h"
#include "schemas/names.h"

namespace herald::broker {

int64_t WallClockMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::optional<std::string> RequireName(Session& session, uint64_t request_id,
                                       const flatbuffers::String* field, NameKind kind) {
  const char* what = kind == NameKind::kTopic ? "topic" : "group";
  if (field == nullptr) {
    session.FailAndClose(request_id,
                         {wire::ErrorCode::MalformedFrame, fmt::format("{} name is missing", what)});
    return std::nullopt;
  }
  std::string name = field->str();
  if (!wire::IsValidName(name)) {
    session.SendError(request_id, {kind == NameKind::kTopic ? wire::ErrorCode::InvalidTopicName
                                                            : wire::ErrorCode::InvalidGroupName,
                                   fmt::format("'{}' is not a valid {} name", name, what)});
    return std::nullopt;
  }
  return name;
}

namespace {

// Replies NotAuthorized and logs the denial (the first few per connection, then
// one in 1,000). `needs` names the permissions that would have allowed it.
void Deny(Session& session, uint64_t request_id, const char* request, std::string_view name,
          std::string_view needs) {
  if (session.CountDenial()) {
    spdlog::get("net")->warn("session {} ({}): denied {} on '{}': no {} permission ({} denials on this connection)",
                             session.id(), session.who(), request, name, needs, session.denials());
  }
  session.SendError(request_id, {wire::ErrorCode::NotAuthorized,
                                 fmt::format("not authorized: {} on '{}' needs the {} permission",
                                             request, name, needs)});
}

}  // namespace

bool Authorize(Session& session, uint64_t request_id, Permission p, std::string_view name,
               const char* request) {
  if (session.Allows(p, name)) return true;
  Deny(session, request_id, request, name, PermissionName(p));
  return false;
}

bool AuthorizeGroup(Session& session, uint64_t request_id, GroupAccess access,
                    std::string_view topic, std::string_view group, const char* request) {
  const Principal* principal = session.principal();
  if (principal == nullptr) return true;
  if (!principal->acl.AllowsGroupTopic(topic)) {
    Deny(session, request_id, request, topic, "subscribe or admin");
    return false;
  }
  if (!principal->acl.AllowsGroup(access, group)) {
    Deny(session, request_id, request, group, GroupAccessNeeds(access));
    return false;
  }
  return true;
}

bool MayDescribeGroup(const Session& session, std::string_view topic, std::string_view group) {
  const Principal* principal = session.principal();
  return principal == nullptr || principal->acl.AllowsGroupOf(GroupAccess::kDescribe, topic, group);
}

Topic* RequireTopic(Session& session, BrokerContext& ctx, uint64_t request_id,
                    const std::string& name) {
  Topic* topic = ctx.registry.Find(name);
  if (topic == nullptr) {
    session.SendError(request_id, {wire::ErrorCode::TopicNotFound, fmt::format("no topic '{}'", name)});
  }
  return topic;
}

void ResolveStart(BrokerContext& ctx, Topic& topic, wire::StartFrom start, uint64_t offset,
                  int64_t timestamp_ms, StartResolved then) {
  const uint64_t earliest = topic.log().earliest(), end = topic.log().end();
  switch (start) {
    case wire::StartFrom::Latest:
      return then(&topic, end);
    case wire::StartFrom::Offset:
      return then(&topic, std::clamp(offset, earliest, end));
    case wire::StartFrom::Timestamp:
      break;
    case wire::StartFrom::Earliest:
    default:
      return then(&topic, earliest);
  }
  ctx.reads->Run([&ctx, store = &ctx.store, topic_id = topic.id(), timestamp_ms,
                  then = std::move(then)]() mutable -> ReadRunner::Completion {
    // A reader thread: the store only (ctx is for the completion).
    const uint64_t found = store->OffsetForTime(topic_id, timestamp_ms);
    return [&ctx, topic_id, found, then = std::move(then)] {
      Topic* now = ctx.registry.FindById(topic_id);
      if (now == nullptr) return then(nullptr, 0);
      then(now, std::clamp(found, now->log().earliest(), now->log().end()));
    };
  });
}

RetentionPolicy RetentionFromWire(const wire::Retention* r) {
  if (r == nullptr) return {};
  return {r->max_age_ms(), r->max_bytes(), r->max_messages()};
}

flatbuffers::Offset<wire::Retention> RetentionToWire(flatbuffers::FlatBufferBuilder& fbb,
                                                     const RetentionPolicy& r) {
  return wire::CreateRetention(fbb, r.max_age_ms, r.max_bytes, r.max_messages);
}

flatbuffers::Offset<wire::GroupInfo> BuildGroupInfo(flatbuffers::FlatBufferBuilder& fbb,
                                                    Topic& topic, const ConsumerGroup& group,
                                                    const FloorTimes& times) {
  GroupStats stats = group.Stats();
  int64_t oldest_age = -1;
  if (stats.lag > 0) {
    if (auto ts = times.At(topic, group)) oldest_age = std::max<int64_t>(0, WallClockMs() - *ts);
  }
  std::vector<uint32_t> backoff;
  for (auto ms : stats.backoff) backoff.push_back(static_cast<uint32_t>(ms.count()));
  auto name = fbb.CreateString(group.name());
  auto topic_name = fbb.CreateString(topic.name());
  auto backoff_vec = fbb.CreateVector(backoff);
  wire::GroupInfoBuilder b(fbb);
  b.add_name(name);
  b.add_topic(topic_name);
  b.add_ack_floor(stats.ack_floor);
  b.add_members(stats.members);
  b.add_in_flight(stats.in_flight);
  b.add_read_cursor(stats.read_cursor);
  b.add_ready(stats.ready);
  b.add_lag(stats.lag);
  b.add_oldest_unacked_age_ms(oldest_age);
  b.add_skipped(stats.skipped);
  b.add_dead_lettered(stats.dead_lettered);
  b.add_redeliveries(stats.redeliveries);
  b.add_max_deliveries(stats.max_deliveries);
  b.add_backoff_ms(backoff_vec);
  return b.Finish();
}

void AddMissingFloors(Topic& topic, const Session& viewer, FloorTimes::Floors* missing) {
  for (const auto& [name, group] : topic.groups()) {
    if (MayDescribeGroup(viewer, topic.name(), name)) FloorTimes::AddIfMissing(topic, *group, missing);
  }
}

flatbuffers::Offset<wire::TopicInfo> BuildTopicInfo(flatbuffers::FlatBufferBuilder& fbb,
                                                    BrokerContext& ctx, Topic& topic,
                                                    const Session& viewer, const FloorTimes& times) {
  std::vector<flatbuffers::Offset<wire::GroupInfo>> groups;
  for (const auto& [name, group] : topic.groups()) {
    if (MayDescribeGroup(viewer, topic.name(), name)) groups.push_back(BuildGroupInfo(fbb, topic, *group, times));
  }
  std::optional<TopicRecord> record = ctx.store.FindTopic(topic.id());
  auto name = fbb.CreateString(topic.name());
  auto group_vec = fbb.CreateVector(groups);
  auto retention = RetentionToWire(fbb, record ? record->retention : RetentionPolicy{});
  // The I/O thread's view of the log: what groups can read.
  const uint64_t earliest = topic.log().earliest(), end = topic.log().end();
  wire::TopicInfoBuilder b(fbb);
  b.add_name(name);
  b.add_earliest_offset(earliest);
  b.add_next_offset(end);
  b.add_groups(group_vec);
  b.add_message_count(end - earliest);
  b.add_bytes(record ? record->bytes : 0);
  b.add_retention(retention);
  return b.Finish();
}

}  // namespace herald::broker
