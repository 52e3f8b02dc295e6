#pragma once
// FloorTimes: the broker times of the messages at groups' ack floors, from
// which group descriptions show the oldest unacked message's age. Memory
// answers for most groups (the group holds the message, or the topic's log
// has it cached); the others' times are read from the store's index on a
// reader thread, so that a description never reads the disk on the I/O
// thread.
//
// Thread: the broker's I/O thread.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "broker/state/broker_context.h"

namespace herald::broker {

class FloorTimes {
 public:
  // (topic id, offset) of the floors memory holds no time for.
  using Floors = std::vector<std::pair<uint64_t, uint64_t>>;

  // Adds the group's floor to *missing if the group has unacked messages and
  // memory holds no time for its floor.
  static void AddIfMissing(Topic& topic, const ConsumerGroup& group, Floors* missing);
  // Reads the times of `missing` on a reader thread, then calls then(times)
  // on the I/O thread; with nothing missing, calls it at once (within the call).
  static void Load(BrokerContext& ctx, Floors missing, std::function<void(FloorTimes)> then);

  // The time of the message at the group's floor: from memory, else from
  // what Load read; nullopt if neither knows it (the floor moved since, or
  // the message is gone).
  std::optional<int64_t> At(Topic& topic, const ConsumerGroup& group) const;

 private:
  std::map<std::pair<uint64_t, uint64_t>, int64_t> loaded_;
};

}  // namespace herald::broker
