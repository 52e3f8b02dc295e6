#include "broker/state/topic_registry.h"

#include <asio/post.hpp>
#include <spdlog/spdlog.h>

#include "broker/storage/record_batch.h"
#include "broker/storage/topic_log.h"
#include "schemas/names.h"

namespace herald::broker {

TopicRegistry::TopicRegistry(asio::io_context& io, IoHandoff& completions, Store* store, ReadRunner* reads,
                             const GroupLimits& limits, std::size_t tail_cache_bytes,
                             RetentionPolicy dead_letter_retention)
    : io_(io),
      completions_(completions),
      store_(store),
      reads_(reads),
      dead_letter_retention_(dead_letter_retention),
      limits_(limits),
      unacked_budget_(std::make_shared<UnackedBudget>(limits.max_unacked_bytes)),
      tail_cache_bytes_(tail_cache_bytes) {}

Status TopicRegistry::Load() {
  for (const TopicRecord& record : store_->Topics()) Add(record);
  std::vector<GroupRecord> groups;
  Status s = store_->LoadGroups(&groups);
  if (!s.ok()) return s;
  for (const GroupRecord& g : groups) {
    Topic* topic = FindById(g.topic_id);
    auto position = GroupPosition::Decode(g.position);
    if (topic == nullptr || !position) {
      spdlog::get("dispatch")->warn("skipping unreadable group '{}' of topic id {}", g.name,
                                    g.topic_id);
      continue;
    }
    NewGroup(topic, g.name, *position);
  }
  return Status::Ok();
}

Topic* TopicRegistry::Find(const std::string& name) {
  auto it = topics_.find(name);
  return it == topics_.end() ? nullptr : it->second.get();
}

Topic* TopicRegistry::FindById(uint64_t id) {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : it->second;
}

Topic* TopicRegistry::Add(const TopicRecord& record) {
  auto& slot = topics_[record.name];
  if (!slot || slot->id() != record.id) {
    if (slot) {
      by_id_.erase(slot->id());
      with_groups_.erase(slot.get());
      group_count_ -= slot->groups().size();
    }
    slot = std::make_unique<Topic>(
        record.id, record.name,
        std::make_unique<TopicLog>(store_, reads_, record.id, record.earliest_offset,
                                   record.next_offset, tail_cache_bytes_));
    by_id_[record.id] = slot.get();
  }
  return slot.get();
}

void TopicRegistry::Remove(const std::string& name) {
  auto it = topics_.find(name);
  if (it == topics_.end()) return;
  for (auto& [group_name, group] : it->second->groups()) group->Close();
  group_count_ -= it->second->groups().size();
  by_id_.erase(it->second->id());
  with_groups_.erase(it->second.get());
  topics_.erase(it);
}

std::shared_ptr<ConsumerGroup> TopicRegistry::NewGroup(Topic* topic, const std::string& name,
                                                       const GroupPosition& position) {
  auto group = std::make_shared<ConsumerGroup>(io_, &topic->log(), name, position, limits_,
                                               unacked_budget_);
  group->set_dead_letter_sink([this, topic_name = topic->name()](DeadLetter letter,
                                                                 std::function<void(bool)> done) {
    StoreDeadLetter(topic_name, std::move(letter), std::move(done));
  });
  if (topic->FindGroup(name) == nullptr) ++group_count_;
  topic->AddGroup(group);
  with_groups_.insert(topic);
  return group;
}

void TopicRegistry::DeleteGroup(Topic* topic, const std::string& name,
                                std::function<void(Status)> done) {
  if (topic->FindGroup(name) != nullptr) --group_count_;
  topic->RemoveGroup(name);
  if (topic->groups().empty()) with_groups_.erase(topic);
  store_->DeleteGroup(topic->id(), name, [this, done = std::move(done)](Status s) {
    asio::post(io_, [done, s = std::move(s)] { done(s); });
  });
}

void TopicRegistry::StoreDeadLetter(const std::string& topic_name, DeadLetter letter,
                                    std::function<void(bool)> done) {
  const std::string dlq_name = wire::DeadLetterTopicName(topic_name);
  if (Topic* dlq = Find(dlq_name)) return AppendDeadLetter(dlq->id(), topic_name, letter, std::move(done));
  // First dead letter of this topic: create TOPIC.dlq, an ordinary topic.
  store_->CreateTopic(dlq_name, dead_letter_retention_,
                      [this, topic_name, letter = std::move(letter), done = std::move(done)](
                          Status s, TopicRecord record, bool created) mutable {
    asio::post(io_, [this, topic_name, letter = std::move(letter), done = std::move(done),
                     s = std::move(s), record = std::move(record), created]() mutable {
      if (!s.ok()) {
        spdlog::get("dispatch")->error("creating {} failed: {}", record.name, s.message());
        return done(false);
      }
      if (created) spdlog::get("dispatch")->info("created dead-letter topic {}", record.name);
      Add(record);
      AppendDeadLetter(record.id, topic_name, letter, std::move(done));
    });
  });
}

void TopicRegistry::AppendDeadLetter(uint64_t dlq_id, const std::string& topic_name,
                                     const DeadLetter& letter, std::function<void(bool)> done) {
  const RecordView& r = letter.message.record();
  const std::pair<std::string_view, std::string> added[] = {
      {"x-herald-dlq-topic", topic_name},
      {"x-herald-dlq-offset", std::to_string(letter.message.offset())},
      {"x-herald-dlq-group", letter.group},
      {"x-herald-dlq-delivery-count", std::to_string(letter.delivery_count)},
      {"x-herald-dlq-reason", letter.reason},
  };
  RecordBatchBuilder builder(1, BrokerTimestampMs(), r.key.size() + r.headers.size() + r.payload.size() + 256);
  builder.StartRecord(r.has_key ? &r.key : nullptr, r.header_count + std::size(added));
  ForEachHeader(r.headers, r.header_count,
                [&](std::string_view name, std::string_view value) { builder.AddHeader(name, value); });
  for (const auto& [name, value] : added) builder.AddHeader(name, value);
  builder.FinishRecord(r.payload);

  AppendRequest append;
  append.topic_id = dlq_id;
  append.count = 1;
  append.batch = builder.Finish();
  store_->Append(std::move(append), [this, dlq_id, done = std::move(done)](AppendResult result) {
    // Handed over in commit order, with the publishes': OnAppended sees a dense log.
    completions_.Post([this, dlq_id, done, result = std::move(result)]() mutable {
      if (!result.status.ok()) {
        spdlog::get("dispatch")->error("dead letter not stored: {}", result.status.message());
        return done(false);
      }
      if (Topic* dlq = FindById(dlq_id); dlq != nullptr && result.batch) dlq->OnAppended(result.batch);
      done(true);
    });
  });
}

void TopicRegistry::Tick(ConsumerGroup::Clock::time_point now) {
  for (Topic* topic : with_groups_)
    for (auto& [group_name, group] : topic->groups()) group->Tick(now);
}

void TopicRegistry::StorePositions(bool sync) {
  for (Topic* topic : with_groups_) {
    for (auto& [group_name, group] : topic->groups()) {
      if (!group->TakeDirty()) continue;
      store_->PutGroup(topic->id(), group_name, group->Position().Encode(), sync, nullptr);
    }
  }
}

}  // namespace herald::broker
