#pragma once
// ConsumerGroup: one subscription of a topic and its members. Every group
// sees every message of the topic; within a group each message goes to one
// member at a time, and stays in flight until acked, nacked, expired, or its
// member leaves.
//
// Thread: the broker's I/O thread. Every method runs there; Pump() is posted
// to the same io_context so that many acks or appends make one pass.
//
// State, for offsets in [ack_floor_, cursor_):
//   acked_     one flag per offset; the floor moves up over acked offsets
//   ready_     read from the log, waiting to be handed out (first delivery,
//              redelivery, or a nack's delay)
//   in_flight_ handed to a member, waiting for its ack
//   key_owner_ key -> the earliest unacked handed-out offset of that key; a
//              message of the key may go out only if it is that offset or the
//              key has no owner (per-key order)
// Memory is bounded: ready_ by count and bytes, in_flight_ by member windows,
// acked_ by kMaxAckGap offsets.

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <asio/io_context.hpp>

#include "broker/dispatch/subscriber_sink.h"
#include "broker/storage/group_position.h"
#include "broker/storage/topic_log.h"

namespace herald::broker {

struct GroupLimits {
  uint32_t default_window = 1000;
  std::chrono::milliseconds default_ack_deadline{30'000};
  uint64_t max_ack_gap = 100'000;            // offsets between floor and read cursor
  std::size_t max_ready_bytes = 16u << 20;   // payload bytes read ahead
  uint32_t default_max_deliveries = 10;      // of a new group; then the message is dead-lettered
  std::vector<std::chrono::milliseconds> default_backoff;  // of a new group; empty: redeliver at once
};

struct GroupStats {
  uint64_t ack_floor = 0;
  uint32_t members = 0;
  uint32_t in_flight = 0;
  uint64_t read_cursor = 0;
  uint32_t ready = 0;
};

class ConsumerGroup : public std::enable_shared_from_this<ConsumerGroup> {
 public:
  using Clock = std::chrono::steady_clock;

  // *log must outlive the group (both belong to one Topic).
  ConsumerGroup(asio::io_context& io, TopicLog* log, std::string name, const GroupPosition& position,
                const GroupLimits& limits);

  const std::string& name() const { return name_; }

  // Returns the member id used by the calls below.
  uint64_t AddMember(std::weak_ptr<SubscriberSink> sink, uint32_t subscription_id, uint32_t window,
                     std::chrono::milliseconds ack_deadline);
  // The member's in-flight messages go back to the group for redelivery.
  void RemoveMember(uint64_t member_id);
  void Ack(std::span<const uint64_t> offsets);
  void Nack(std::span<const uint64_t> offsets, std::chrono::milliseconds delay);

  void OnLogAppended() { SchedulePump(); }
  void OnSinkWritable() { SchedulePump(); }
  // Expires ack deadlines and releases delayed redeliveries due by `now`.
  void Tick(Clock::time_point now);

  // Drops every member and stops delivering (the topic was deleted).
  void Close();

  GroupPosition Position() const;
  GroupStats Stats() const;
  // True once since the last call if the position changed (it needs storing).
  bool TakeDirty() { return std::exchange(dirty_, false); }

 private:
  struct Member {
    uint64_t id;
    std::weak_ptr<SubscriberSink> sink;
    uint32_t subscription_id;
    uint32_t window;
    std::chrono::milliseconds ack_deadline;
    uint32_t in_flight = 0;
    std::vector<OutgoingDelivery> batch;  // filled during one Pump
  };
  struct Ready {
    MessageRef message;
    uint32_t delivery_count = 0;  // deliveries so far
    Clock::time_point not_before{};
  };
  struct InFlight {
    MessageRef message;
    uint32_t delivery_count;
    uint64_t member_id;
    Clock::time_point deadline;
  };

  void SchedulePump();
  void Pump();
  void Fill();
  Member* NextMemberWithRoom();
  void Requeue(uint64_t offset, InFlight&& f, Clock::time_point not_before);
  void MarkAcked(uint64_t offset);
  void AdvanceFloor();
  void ReleaseKey(const MessageRef& message);
  Member* FindMember(uint64_t member_id);

  asio::io_context& io_;
  TopicLog* log_;
  std::string name_;
  GroupLimits limits_;

  uint64_t ack_floor_;
  uint64_t cursor_;                       // next offset to read from the log
  std::deque<uint8_t> acked_;             // [ack_floor_, ack_floor_ + size)
  std::map<uint64_t, Ready> ready_;       // ordered: lowest offset first
  std::size_t ready_bytes_ = 0;
  std::unordered_map<uint64_t, InFlight> in_flight_;
  std::unordered_map<std::string_view, uint64_t> key_owner_;  // views into owned messages

  std::vector<Member> members_;
  std::size_t next_member_ = 0;  // round-robin position
  uint64_t next_member_id_ = 1;
  bool pump_scheduled_ = false;
  bool dirty_ = false;
  bool closed_ = false;
};

}  // namespace herald::broker
