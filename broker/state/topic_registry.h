#pragma once
// TopicRegistry: the I/O thread's view of every topic and group. The Store
// is the authority on which topics exist; the registry follows it (it is
// loaded from the store at start and changed when the store's create and
// delete operations complete).
//
// Thread: the broker's I/O thread.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <asio/io_context.hpp>

#include "broker/dispatch/consumer_group.h"
#include "broker/dispatch/topic.h"
#include "broker/state/io_handoff.h"
#include "broker/status.h"
#include "broker/storage/read_runner.h"
#include "broker/storage/store.h"

namespace herald::broker {

class TopicRegistry {
 public:
  // *store must outlive the registry. The store's completions of dead
  // letters reach the I/O thread through `completions`, in commit order with
  // the publishes'. The topics' logs read what is not in memory through
  // `reads` (off the I/O thread). Dead-letter topics the registry creates get
  // `dead_letter_retention`.
  TopicRegistry(asio::io_context& io, IoHandoff& completions, Store* store, ReadRunner* reads,
                const GroupLimits& limits, std::size_t tail_cache_bytes,
                RetentionPolicy dead_letter_retention);

  // Loads the topics and groups the store holds.
  Status Load();

  Topic* Find(const std::string& name);
  Topic* FindById(uint64_t id);
  // Ordered by name: a listing pages with upper_bound in O(log n + page).
  const std::map<std::string, std::unique_ptr<Topic>>& topics() const { return topics_; }
  const UnackedBudget& unacked_budget() const { return *unacked_budget_; }
  // Groups of every topic, kept as they come and go so that status need not
  // walk every topic to count them.
  std::size_t group_count() const { return group_count_; }

  Topic* Add(const TopicRecord& record);
  // Removes the topic and closes its groups.
  void Remove(const std::string& name);

  std::shared_ptr<ConsumerGroup> NewGroup(Topic* topic, const std::string& name,
                                          const GroupPosition& position);
  // Closes the group and deletes its stored position; done(status) on the I/O thread.
  void DeleteGroup(Topic* topic, const std::string& name, std::function<void(Status)> done);

  // Expires ack deadlines and releases delayed redeliveries in every group.
  void Tick(ConsumerGroup::Clock::time_point now);
  // Stores the position of every group that changed since the last call.
  void StorePositions(bool sync);

 private:
  // The dead-letter path of every group: append the letter to TOPIC.dlq
  // (wire::DeadLetterTopicName; created on first use) with headers naming
  // where it came from.
  void StoreDeadLetter(const std::string& topic_name, DeadLetter letter,
                       std::function<void(bool)> done);
  void AppendDeadLetter(uint64_t dlq_id, const std::string& topic_name, const DeadLetter& letter,
                        std::function<void(bool)> done);

  asio::io_context& io_;
  IoHandoff& completions_;
  Store* store_;
  ReadRunner* reads_;
  RetentionPolicy dead_letter_retention_;
  GroupLimits limits_;
  // Every group's unacked bytes, shared with the groups (which may outlive the registry).
  std::shared_ptr<UnackedBudget> unacked_budget_;
  std::size_t tail_cache_bytes_;
  std::map<std::string, std::unique_ptr<Topic>> topics_;
  // Storage callbacks, retention and dead letters name topics by id.
  std::unordered_map<uint64_t, Topic*> by_id_;
  // The topics that have groups: the periodic passes (Tick, StorePositions)
  // visit only these, since walking every topic of a broker with many stalls
  // the I/O thread several times a second.
  std::unordered_set<Topic*> with_groups_;
  std::size_t group_count_ = 0;
};

}  // namespace herald::broker
