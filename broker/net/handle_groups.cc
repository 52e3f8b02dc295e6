// Group administration: describe, reset (idle groups only), delete.

#include <asio/post.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "broker/net/handler_support.h"
#include "broker/net/request_handler.h"
#include "broker/net/session.h"

namespace herald::broker {

namespace {

struct GroupTarget {
  Topic* topic;
  std::shared_ptr<ConsumerGroup> group;
};

// The topic and group a request names, or nullopt after replying. The
// principal needs `access` on both (AuthorizeGroup), checked before anything
// is looked up.
template <class Request>
std::optional<GroupTarget> RequireGroup(Session& session, BrokerContext& ctx, uint64_t request_id,
                                        const Request& request, GroupAccess access,
                                        const char* what) {
  auto topic_name = RequireName(session, request_id, request.topic(), NameKind::kTopic);
  if (!topic_name) return std::nullopt;
  auto group_name = RequireName(session, request_id, request.group(), NameKind::kGroup);
  if (!group_name) return std::nullopt;
  if (!AuthorizeGroup(session, request_id, access, *topic_name, *group_name, what)) return std::nullopt;
  Topic* topic = RequireTopic(session, ctx, request_id, *topic_name);
  if (topic == nullptr) return std::nullopt;
  auto group = topic->FindGroup(*group_name);
  if (group == nullptr) {
    session.SendError(request_id, {wire::ErrorCode::GroupNotFound,
                                   fmt::format("no group '{}' on topic '{}'", *group_name, *topic_name)});
    return std::nullopt;
  }
  return GroupTarget{topic, std::move(group)};
}

// Replies with the group's GroupInfo, once the time of its floor is known
// (read off the I/O thread if memory lacks it).
void SendGroupInfo(Session& session, BrokerContext& ctx, uint64_t request_id, Topic& topic,
                   const std::shared_ptr<ConsumerGroup>& group, wire::Body request) {
  FloorTimes::Floors missing;
  FloorTimes::AddIfMissing(topic, *group, &missing);
  session.BeginRequest(0);
  FloorTimes::Load(ctx, std::move(missing),
                   [self = session.Self(), &ctx, request_id, topic_id = topic.id(), group, request](FloorTimes times) {
    self->EndRequest(0);
    if (self->closed()) return;
    Topic* now = ctx.registry.FindById(topic_id);
    if (now == nullptr || now->FindGroup(group->name()) != group) {
      return self->SendError(request_id, {wire::ErrorCode::GroupNotFound, "group was deleted"}, request);
    }
    flatbuffers::FlatBufferBuilder fbb(256);
    self->Send(wire::FinishFrame(fbb, request_id, BuildGroupInfo(fbb, *now, *group, times)));
  });
}

Status Busy(const ConsumerGroup& group, const char* action) {
  return {wire::ErrorCode::GroupBusy,
          fmt::format("group '{}' has {} members; stop them before the {}", group.name(),
                      group.Stats().members, action)};
}

// Resets the idle group to `start`, stores its position and replies.
void ResetAndReply(Session& session, BrokerContext& ctx, uint64_t request_id, Topic& topic,
                   const std::shared_ptr<ConsumerGroup>& target, uint64_t start) {
  ConsumerGroup& group = *target;
  if (!group.Reset(start)) return session.SendError(request_id, Busy(group, "reset"), wire::Body::ResetGroup);
  spdlog::get("broker")->info("{} reset group {} of topic {} to offset {}", session.who(),
                              group.name(), topic.name(), start);
  // Stored before the reply: a reset the client saw survives a crash.
  auto self = session.Self();
  session.BeginRequest(0);
  ctx.store.PutGroup(topic.id(), group.name(), group.Position().Encode(), /*sync=*/true,
                     [self, &ctx, request_id, topic_id = topic.id(), group = target](Status s) {
    asio::post(ctx.io, [self, &ctx, request_id, topic_id, group, s = std::move(s)] {
      self->EndRequest(0);
      if (!s.ok()) return self->SendError(request_id, s, wire::Body::ResetGroup);
      Topic* now = ctx.registry.FindById(topic_id);  // it may have been deleted meanwhile
      if (now == nullptr) {
        return self->SendError(request_id, {wire::ErrorCode::TopicNotFound, "topic was deleted"},
                               wire::Body::ResetGroup);
      }
      SendGroupInfo(*self, ctx, request_id, *now, group, wire::Body::ResetGroup);
    });
  });
}

}  // namespace

void HandleDescribeGroup(Session& session, BrokerContext& ctx, uint64_t request_id,
                         const wire::DescribeGroup& request) {
  auto target = RequireGroup(session, ctx, request_id, request, GroupAccess::kDescribe, "describe group");
  if (!target) return;
  SendGroupInfo(session, ctx, request_id, *target->topic, target->group, wire::Body::DescribeGroup);
}

void HandleResetGroup(Session& session, BrokerContext& ctx, uint64_t request_id,
                      const wire::ResetGroup& request) {
  auto target = RequireGroup(session, ctx, request_id, request, GroupAccess::kAdminister, "reset group");
  if (!target) return;
  // A start time is looked up off the I/O thread; the group is reset when it is known.
  session.BeginRequest(0);
  ResolveStart(ctx, *target->topic, request.start(), request.offset(), request.timestamp_ms(),
               [self = session.Self(), &ctx, request_id, group = target->group](Topic* topic, uint64_t start) {
    self->EndRequest(0);
    if (self->closed()) return;
    // Deleted meanwhile: the topic, or the group (closed, and gone from its topic).
    if (topic == nullptr || topic->FindGroup(group->name()) != group) {
      return self->SendError(request_id, {wire::ErrorCode::GroupNotFound, "group was deleted"},
                             wire::Body::ResetGroup);
    }
    ResetAndReply(*self, ctx, request_id, *topic, group, start);
  });
}

void HandleDeleteGroup(Session& session, BrokerContext& ctx, uint64_t request_id,
                       const wire::DeleteGroup& request) {
  auto target = RequireGroup(session, ctx, request_id, request, GroupAccess::kAdminister, "delete group");
  if (!target) return;
  if (target->group->has_members()) return session.SendError(request_id, Busy(*target->group, "delete"));
  spdlog::get("broker")->info("{} deleted group {} of topic {}", session.who(),
                              target->group->name(), target->topic->name());
  auto self = session.Self();
  session.BeginRequest(0);
  ctx.registry.DeleteGroup(target->topic, target->group->name(), [self, request_id](Status s) {
    self->EndRequest(0);
    if (!s.ok()) return self->SendError(request_id, s, wire::Body::DeleteGroup);
    self->Send(wire::EncodeOk(request_id));
  });
}

}  // namespace herald::broker
