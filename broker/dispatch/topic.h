#pragma once
// Topic: one topic's log (read side) and its consumer groups.
// Thread: the broker's I/O thread.

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "broker/dispatch/consumer_group.h"
#include "broker/storage/log_reader.h"

namespace herald::broker {

class Topic {
 public:
  // `log` reads this topic's messages (the broker's TopicLog, or a log in memory in tests).
  Topic(uint64_t id, std::string name, std::unique_ptr<LogReader> log)
      : id_(id), name_(std::move(name)), log_(std::move(log)) {}

  uint64_t id() const { return id_; }
  const std::string& name() const { return name_; }
  LogReader& log() { return *log_; }
  const std::map<std::string, std::shared_ptr<ConsumerGroup>>& groups() const { return groups_; }

  std::shared_ptr<ConsumerGroup> FindGroup(const std::string& name) const {
    auto it = groups_.find(name);
    return it == groups_.end() ? nullptr : it->second;
  }
  void AddGroup(std::shared_ptr<ConsumerGroup> group) { groups_[group->name()] = std::move(group); }
  // Closes and forgets the group (its stored position is the caller's to delete).
  void RemoveGroup(const std::string& name) {
    auto it = groups_.find(name);
    if (it == groups_.end()) return;
    GroupStats last = it->second->Stats();
    removed_groups_delivered_.messages += last.delivered;
    removed_groups_delivered_.bytes += last.delivered_bytes;
    it->second->Close();
    groups_.erase(it);
  }
  // What groups removed since the broker started had delivered: the topic's
  // delivery counters add it to the live groups', so that they never go down
  // when a group goes (Prometheus would read that as a counter reset).
  struct Delivered {
    uint64_t messages = 0;
    uint64_t bytes = 0;
  };
  const Delivered& removed_groups_delivered() const { return removed_groups_delivered_; }

  // A batch of this topic is durable: extend the log and wake every group.
  void OnAppended(std::shared_ptr<const RecordBatch> batch) {
    log_->OnAppended(std::move(batch));
    for (auto& [name, group] : groups_) group->OnLogAppended();
  }

  // Retention or a purge removed the offsets below `earliest`.
  void OnTruncated(uint64_t earliest) {
    log_->OnTruncated(earliest);
    for (auto& [name, group] : groups_) group->OnLogTruncated();
  }

 private:
  uint64_t id_;
  std::string name_;
  std::unique_ptr<LogReader> log_;
  std::map<std::string, std::shared_ptr<ConsumerGroup>> groups_;
  Delivered removed_groups_delivered_;
};

}  // namespace herald::broker
