// Topic administration: create (idempotent), delete, list, describe.

#include <asio/post.hpp>
#include <fmt/format.h>

#include "broker/net/request_handler.h"
#include "broker/net/session.h"
#include "schemas/names.h"

namespace herald::broker {

namespace {

flatbuffers::Offset<wire::TopicInfo> BuildTopicInfo(flatbuffers::FlatBufferBuilder& fbb,
                                                    Topic& topic) {
  std::vector<flatbuffers::Offset<wire::GroupInfo>> groups;
  for (const auto& [name, group] : topic.groups()) {
    GroupStats stats = group->Stats();
    groups.push_back(wire::CreateGroupInfo(fbb, fbb.CreateString(name), stats.ack_floor,
                                           stats.members, stats.in_flight, stats.read_cursor,
                                           stats.ready));
  }
  auto name = fbb.CreateString(topic.name());
  auto group_vec = fbb.CreateVector(groups);
  return wire::CreateTopicInfo(fbb, name, topic.log().earliest(), topic.log().end(), group_vec);
}

// Returns the name, or nullopt after replying with the right error.
std::optional<std::string> TopicName(Session& session, uint64_t request_id,
                                     const flatbuffers::String* field) {
  if (field == nullptr) {
    session.FailAndClose(request_id, {wire::ErrorCode::MalformedFrame, "topic name is missing"});
    return std::nullopt;
  }
  std::string name = field->str();
  if (!wire::IsValidName(name)) {
    session.SendError(request_id, {wire::ErrorCode::InvalidTopicName,
                                   fmt::format("'{}' is not a valid topic name", name)});
    return std::nullopt;
  }
  return name;
}

}  // namespace

void HandleCreateTopic(Session& session, BrokerContext& ctx, uint64_t request_id,
                       const wire::CreateTopic& request) {
  auto name = TopicName(session, request_id, request.name());
  if (!name) return;
  auto self = std::static_pointer_cast<Session>(session.shared_from_this());
  session.BeginRequest(0);
  ctx.store.CreateTopic(*name, [self, &ctx, request_id](Status s, TopicRecord record, bool created) {
    asio::post(ctx.io, [self, &ctx, request_id, s = std::move(s), record = std::move(record),
                        created] {
      self->EndRequest(0);
      if (!s.ok()) return self->SendError(request_id, s);
      ctx.registry.Add(record);
      flatbuffers::FlatBufferBuilder fbb(64);
      self->Send(wire::FinishFrame(fbb, request_id, wire::CreateCreateTopicOk(fbb, created)));
    });
  });
}

void HandleDeleteTopic(Session& session, BrokerContext& ctx, uint64_t request_id,
                       const wire::DeleteTopic& request) {
  auto name = TopicName(session, request_id, request.name());
  if (!name) return;
  auto self = std::static_pointer_cast<Session>(session.shared_from_this());
  session.BeginRequest(0);
  ctx.store.DeleteTopic(*name, [self, &ctx, request_id, name = *name](Status s) {
    asio::post(ctx.io, [self, &ctx, request_id, name, s = std::move(s)] {
      self->EndRequest(0);
      if (!s.ok()) return self->SendError(request_id, s);
      ctx.registry.Remove(name);
      self->Send(wire::EncodeOk(request_id));
    });
  });
}

void HandleListTopics(Session& session, BrokerContext& ctx, uint64_t request_id) {
  flatbuffers::FlatBufferBuilder fbb(1024);
  std::vector<flatbuffers::Offset<wire::TopicInfo>> topics;
  for (const auto& [name, topic] : ctx.registry.topics()) topics.push_back(BuildTopicInfo(fbb, *topic));
  auto vec = fbb.CreateVector(topics);
  session.Send(wire::FinishFrame(fbb, request_id, wire::CreateTopicList(fbb, vec)));
}

void HandleDescribeTopic(Session& session, BrokerContext& ctx, uint64_t request_id,
                         const wire::DescribeTopic& request) {
  auto name = TopicName(session, request_id, request.name());
  if (!name) return;
  Topic* topic = ctx.registry.Find(*name);
  if (topic == nullptr) {
    return session.SendError(request_id,
                             {wire::ErrorCode::TopicNotFound, fmt::format("no topic '{}'", *name)});
  }
  flatbuffers::FlatBufferBuilder fbb(512);
  session.Send(wire::FinishFrame(fbb, request_id, BuildTopicInfo(fbb, *topic)));
}

}  // namespace herald::broker
