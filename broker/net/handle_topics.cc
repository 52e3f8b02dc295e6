// Topic administration: create (idempotent), alter retention, purge, delete,
// describe (listing pages: handle_list_topics.cc). Every change is logged
// with the connection that asked.

#include <asio/post.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "broker/metrics/broker_metrics.h"
#include "broker/net/handler_support.h"
#include "broker/net/request_handler.h"
#include "broker/net/session.h"
#include "broker/storage/retention_worker.h"

namespace herald::broker {

namespace {

// Replies with the topic's TopicInfo, once the times of its groups' floors
// are known (read off the I/O thread if memory lacks some).
void SendTopicInfo(Session& session, BrokerContext& ctx, uint64_t request_id, Topic& topic, wire::Body request) {
  FloorTimes::Floors missing;
  AddMissingFloors(topic, session, &missing);
  session.BeginRequest(0);
  FloorTimes::Load(ctx, std::move(missing),
                   [self = session.Self(), &ctx, request_id, topic_id = topic.id(), request](FloorTimes times) {
    self->EndRequest(0);
    if (self->closed()) return;
    Topic* now = ctx.registry.FindById(topic_id);
    if (now == nullptr) {
      return self->SendError(request_id, {wire::ErrorCode::TopicNotFound, "topic was deleted"}, request);
    }
    flatbuffers::FlatBufferBuilder fbb(512);
    self->Send(wire::FinishFrame(fbb, request_id, BuildTopicInfo(fbb, ctx, *now, *self, times)));
  });
}

std::string Describe(const RetentionPolicy& r) {
  return fmt::format("max_age_ms={} max_bytes={} max_messages={}", r.max_age_ms, r.max_bytes,
                     r.max_messages);
}

}  // namespace

void HandleCreateTopic(Session& session, BrokerContext& ctx, uint64_t request_id,
                       const wire::CreateTopic& request) {
  auto name = RequireName(session, request_id, request.name(), NameKind::kTopic);
  if (!name) return;
  if (!Authorize(session, request_id, Permission::kAdmin, *name, "create topic")) return;
  RetentionPolicy retention =
      request.retention() ? RetentionFromWire(request.retention()) : ctx.config.default_retention;
  auto self = session.Self();
  session.BeginRequest(0);
  ctx.store.CreateTopic(*name, retention,
                        [self, &ctx, request_id](Status s, TopicRecord record, bool created) {
    asio::post(ctx.io, [self, &ctx, request_id, s = std::move(s), record = std::move(record),
                        created] {
      self->EndRequest(0);
      if (!s.ok()) return self->SendError(request_id, s, wire::Body::CreateTopic);
      ctx.registry.Add(record);
      if (created) {
        spdlog::get("broker")->info("{} created topic {} ({})", self->who(), record.name,
                                    Describe(record.retention));
      }
      flatbuffers::FlatBufferBuilder fbb(64);
      self->Send(wire::FinishFrame(fbb, request_id, wire::CreateCreateTopicOk(fbb, created)));
    });
  });
}

void HandleAlterTopic(Session& session, BrokerContext& ctx, uint64_t request_id,
                      const wire::AlterTopic& request) {
  auto name = RequireName(session, request_id, request.name(), NameKind::kTopic);
  if (!name) return;
  if (!Authorize(session, request_id, Permission::kAdmin, *name, "alter topic")) return;
  if (request.retention() == nullptr) {
    return session.SendError(request_id, {wire::ErrorCode::InvalidArgument, "AlterTopic needs a retention"});
  }
  RetentionPolicy retention = RetentionFromWire(request.retention());
  auto self = session.Self();
  session.BeginRequest(0);
  ctx.store.AlterTopic(*name, retention, [self, &ctx, request_id](Status s, TopicRecord record, bool) {
    asio::post(ctx.io, [self, &ctx, request_id, s = std::move(s), record = std::move(record)] {
      self->EndRequest(0);
      if (!s.ok()) return self->SendError(request_id, s, wire::Body::AlterTopic);
      spdlog::get("broker")->info("{} altered topic {}: {}", self->who(), record.name,
                                  Describe(record.retention));
      // New limits take effect at once, not at the next periodic pass.
      if (ctx.retention != nullptr) ctx.retention->Wake();
      Topic* topic = ctx.registry.Find(record.name);
      if (topic == nullptr) {
        return self->SendError(request_id, {wire::ErrorCode::TopicNotFound, "topic was deleted"},
                               wire::Body::AlterTopic);
      }
      SendTopicInfo(*self, ctx, request_id, *topic, wire::Body::AlterTopic);
    });
  });
}

void HandlePurgeTopic(Session& session, BrokerContext& ctx, uint64_t request_id,
                      const wire::PurgeTopic& request) {
  auto name = RequireName(session, request_id, request.name(), NameKind::kTopic);
  if (!name) return;
  if (!Authorize(session, request_id, Permission::kAdmin, *name, "purge topic")) return;
  Topic* topic = RequireTopic(session, ctx, request_id, *name);
  if (topic == nullptr) return;
  auto self = session.Self();
  session.BeginRequest(0);
  ctx.store.Truncate(topic->id(), Store::kUnknownOffset,
                     [self, &ctx, request_id, id = topic->id()](Status s, TopicRecord record, bool) {
    asio::post(ctx.io, [self, &ctx, request_id, id, s = std::move(s), record = std::move(record)] {
      self->EndRequest(0);
      if (!s.ok()) return self->SendError(request_id, s, wire::Body::PurgeTopic);
      Topic* purged = ctx.registry.FindById(id);
      if (purged == nullptr) {
        return self->SendError(request_id, {wire::ErrorCode::TopicNotFound, "topic was deleted"},
                               wire::Body::PurgeTopic);
      }
      purged->OnTruncated(record.earliest_offset);
      spdlog::get("broker")->info("{} purged topic {}: it now starts at {}", self->who(),
                                  record.name, record.earliest_offset);
      if (ctx.retention != nullptr) ctx.retention->Compact(id, record.earliest_offset);
      SendTopicInfo(*self, ctx, request_id, *purged, wire::Body::PurgeTopic);
    });
  });
}

void HandleDeleteTopic(Session& session, BrokerContext& ctx, uint64_t request_id,
                       const wire::DeleteTopic& request) {
  auto name = RequireName(session, request_id, request.name(), NameKind::kTopic);
  if (!name) return;
  if (!Authorize(session, request_id, Permission::kAdmin, *name, "delete topic")) return;
  auto self = session.Self();
  session.BeginRequest(0);
  ctx.store.DeleteTopic(*name, [self, &ctx, request_id, name = *name](Status s) {
    asio::post(ctx.io, [self, &ctx, request_id, name, s = std::move(s)] {
      self->EndRequest(0);
      if (!s.ok()) return self->SendError(request_id, s, wire::Body::DeleteTopic);
      if (Topic* gone = ctx.registry.Find(name); gone != nullptr && ctx.metrics != nullptr) {
        ctx.metrics->topics.erase(gone->id());
      }
      ctx.registry.Remove(name);
      spdlog::get("broker")->info("{} deleted topic {}", self->who(), name);
      self->Send(wire::EncodeOk(request_id));
    });
  });
}

void HandleDescribeTopic(Session& session, BrokerContext& ctx, uint64_t request_id,
                         const wire::DescribeTopic& request) {
  auto name = RequireName(session, request_id, request.name(), NameKind::kTopic);
  if (!name) return;
  // Any permission on the topic is enough to describe it.
  const Principal* principal = session.principal();
  if (principal != nullptr && !principal->acl.AllowsAnyOnTopic(*name) &&
      !Authorize(session, request_id, Permission::kSubscribe, *name, "describe topic")) {
    return;
  }
  Topic* topic = RequireTopic(session, ctx, request_id, *name);
  if (topic == nullptr) return;
  SendTopicInfo(session, ctx, request_id, *topic, wire::Body::DescribeTopic);
}

}  // namespace herald::broker
