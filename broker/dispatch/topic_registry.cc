#include "broker/dispatch/topic_registry.h"

#include <spdlog/spdlog.h>

namespace herald::broker {

TopicRegistry::TopicRegistry(asio::io_context& io, Store* store, const GroupLimits& limits,
                             std::size_t tail_cache_bytes)
    : io_(io), store_(store), limits_(limits), tail_cache_bytes_(tail_cache_bytes) {}

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
  for (auto& [name, topic] : topics_)
    if (topic->id() == id) return topic.get();
  return nullptr;
}

Topic* TopicRegistry::Add(const TopicRecord& record) {
  auto& slot = topics_[record.name];
  if (!slot || slot->id() != record.id) slot = std::make_unique<Topic>(store_, record, tail_cache_bytes_);
  return slot.get();
}

void TopicRegistry::Remove(const std::string& name) {
  auto it = topics_.find(name);
  if (it == topics_.end()) return;
  for (auto& [group_name, group] : it->second->groups()) group->Close();
  topics_.erase(it);
}

std::shared_ptr<ConsumerGroup> TopicRegistry::NewGroup(Topic* topic, const std::string& name,
                                                       const GroupPosition& position) {
  auto group = std::make_shared<ConsumerGroup>(io_, &topic->log(), name, position, limits_);
  topic->AddGroup(group);
  return group;
}

void TopicRegistry::Tick(ConsumerGroup::Clock::time_point now) {
  for (auto& [name, topic] : topics_)
    for (auto& [group_name, group] : topic->groups()) group->Tick(now);
}

void TopicRegistry::StorePositions(bool sync) {
  for (auto& [name, topic] : topics_) {
    for (auto& [group_name, group] : topic->groups()) {
      if (!group->TakeDirty()) continue;
      store_->PutGroup(topic->id(), group_name, group->Position().Encode(), sync, nullptr);
    }
  }
}

}  // namespace herald::broker
