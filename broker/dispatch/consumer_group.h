#pragma once
// ConsumerGroup: one subscription of a topic and its members. Every group
// sees every message of the topic; within a group each message goes to one
// member at a time, and stays in flight until acked, nacked, expired, or its
// member leaves.
//
// Thread: the broker's I/O thread (kIoThread, broker/io_thread.h). Every
// method runs there, and its state is GUARDED_BY(kIoThread); Pump() is posted
// to the same io_context so that many acks or appends make one pass.
//
// Reading the log: what the log holds in memory is read at once (a group
// that keeps up); anything else is read off the I/O thread (LogReader::
// ReadLater), one read at a time per group, and its result is taken when it
// comes back (OnReadDone), whatever happened meanwhile: a Reset or Close
// drops it, a truncation past the cursor drops what it removed, and appends
// since are read next.
//
// State, for offsets in [ack_floor_, cursor_):
//   acked_     one flag per offset; the floor moves up over acked offsets
//   ready_     read from the log, waiting to be handed out (first delivery,
//              redelivery, or a nack's delay)
//   in_flight_ handed to a member, waiting for its ack
//   key_owner_ key -> the earliest unacked handed-out offset of that key; a
//              message of the key may go out only if it is that offset or the
//              key has no owner (per-key order)
//   dead_lettering_ on its way to the dead-letter topic (still unacked)
// Memory is bounded: ready_ by count and bytes, in_flight_ by member windows
// (clamped to max_window) and by payload bytes, per group and across groups
// (UnackedBudget), acked_ by max_ack_gap offsets. A nack's reason is stored
// once for all its offsets and counted with them.
//
// Redelivery policy: a message that comes back (nack, expired deadline,
// member gone) after max_deliveries deliveries is handed to the dead-letter
// sink instead, and counts as acked once the sink has stored it. Otherwise it
// waits for the nack's delay, else for backoff[n-1] (the last step repeats).

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <set>
#include <memory>
#include <memory_resource>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <asio/io_context.hpp>

#include "broker/dispatch/subscriber_sink.h"
#include "broker/io_thread.h"
#include "broker/dispatch/unacked_budget.h"
#include "broker/storage/group_position.h"
#include "broker/storage/log_reader.h"

namespace herald::broker {

struct GroupLimits {
  uint32_t default_window = 1000;
  uint32_t max_window = 10'000;              // a member asking for more gets this
  // Payload bytes (and nack reasons) a group's members hold unacked; one
  // message always goes out, however large. The broker-wide sum is bounded
  // by max_unacked_bytes (UnackedBudget, owned by the registry).
  std::size_t max_group_unacked_bytes = 8u << 20;
  std::size_t max_unacked_bytes = 64u << 20;
  std::chrono::milliseconds default_ack_deadline{30'000};
  uint64_t max_ack_gap = 100'000;            // offsets between floor and read cursor
  std::size_t max_ready_bytes = 2u << 20;    // payload bytes read ahead (memory per group)
  uint32_t default_max_deliveries = 10;      // of a new group; then the message is dead-lettered
  std::vector<std::chrono::milliseconds> default_backoff;  // of a new group; empty: redeliver at once
};

struct GroupStats {
  uint64_t ack_floor = 0;
  uint32_t members = 0;
  uint32_t in_flight = 0;
  uint64_t read_cursor = 0;
  uint32_t ready = 0;
  uint64_t lag = 0;            // offsets of the log not acked yet
  uint64_t skipped = 0;
  uint64_t dead_lettered = 0;
  uint64_t redeliveries = 0;
  uint64_t delivered = 0;        // deliveries since the broker started
  uint64_t delivered_bytes = 0;  // their payload bytes
  uint32_t max_deliveries = 0;
  std::vector<std::chrono::milliseconds> backoff;
};

// A message that used up its deliveries, on its way to TOPIC.dlq.
struct DeadLetter {
  MessageRef message;
  std::string group;
  uint32_t delivery_count = 0;
  std::string reason;  // of the last nack, if any
};
// A nack's reason, shared by every offset of that nack.
using NackReason = std::shared_ptr<const std::string>;
// Stores the dead letter durably, then calls done(true) on the I/O thread
// (done(false) if it could not).
using DeadLetterSink = std::function<void(DeadLetter, std::function<void(bool stored)> done)>;

class ConsumerGroup : public std::enable_shared_from_this<ConsumerGroup> {
 public:
  using Clock = std::chrono::steady_clock;

  // *log must outlive the group (both belong to one Topic). `budget` is the
  // broker-wide bound on unacked bytes (nullptr: none); the group shares it,
  // since a pump still posted to the io_context may hold the group past the
  // registry that made it.
  ConsumerGroup(asio::io_context& io, LogReader* log, std::string name, const GroupPosition& position,
                const GroupLimits& limits, std::shared_ptr<UnackedBudget> budget = nullptr);
  ~ConsumerGroup();

  const std::string& name() const { return name_; }
  void set_dead_letter_sink(DeadLetterSink sink) {
    kIoThread.AssertHeld();
    dead_letter_sink_ = std::move(sink);
  }
  // 0 / empty: keep the current value.
  void SetPolicy(uint32_t max_deliveries, std::vector<std::chrono::milliseconds> backoff);

  // Returns the member id used by the calls below.
  uint64_t AddMember(std::weak_ptr<SubscriberSink> sink, uint32_t subscription_id, uint32_t window,
                     std::chrono::milliseconds ack_deadline);
  // The member's in-flight messages go back to the group for redelivery.
  void RemoveMember(uint64_t member_id);
  // Settlements count only for offsets `member_id` holds: an offset in flight
  // with another member, or with none, is left alone, so one member cannot
  // settle (and so skip) what the group handed to another. The exception is
  // a late ack of the member that held an offset before it came back for
  // redelivery: it was processed after all, and need not go out again.
  void Ack(uint64_t member_id, std::span<const uint64_t> offsets);
  void Nack(uint64_t member_id, std::span<const uint64_t> offsets, std::chrono::milliseconds delay,
            std::string_view reason = {});
  // The deadlines of these in-flight offsets start again from now.
  void ExtendDeadline(uint64_t member_id, std::span<const uint64_t> offsets);
  // Moves an idle group to `start` (forgets everything read or acked).
  // False if the group has members.
  bool Reset(uint64_t start);
  bool has_members() const {
    kIoThread.AssertHeld();
    return !members_.empty();
  }

  void OnLogAppended() {
    kIoThread.AssertHeld();
    SchedulePump();
  }
  void OnSinkWritable() {
    kIoThread.AssertHeld();
    SchedulePump();
  }
  // Counts what the group lost at once, members or not (group describe shows it).
  void OnLogTruncated();
  // Expires ack deadlines and releases delayed redeliveries due by `now`.
  void Tick(Clock::time_point now);

  // Drops every member and stops delivering (the topic was deleted).
  void Close();

  GroupPosition Position() const;
  GroupStats Stats() const;
  // Broker time of the message at `offset` if the group holds it (read and
  // not acked yet: ready or in flight); nullopt otherwise.
  std::optional<int64_t> HeldTimestampAt(uint64_t offset) const;
  // True once since the last call if the position changed (it needs storing).
  bool TakeDirty() {
    kIoThread.AssertHeld();
    return std::exchange(dirty_, false);
  }

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
    NackReason last_reason;
    uint64_t last_member_id = 0;  // who held it before it came back; 0: nobody yet
  };
  struct InFlight {
    MessageRef message;
    uint32_t delivery_count;
    uint64_t member_id;
    Clock::time_point deadline;
    NackReason last_reason;
  };
  using InFlightMap = std::pmr::unordered_map<uint64_t, InFlight>;
  enum class Backoff { kApply, kNone };

  void SchedulePump() REQUIRES(kIoThread);
  void Pump() REQUIRES(kIoThread);
  // What a message and its reason cost in ready_bytes_ and unacked_bytes_.
  static std::size_t HeldBytes(const MessageRef& message, const NackReason& reason);
  // Whether a message of `bytes` may go out now within the unacked limits;
  // if the broker-wide budget is what stops it, the group waits for it.
  bool RoomForUnacked(std::size_t bytes) REQUIRES(kIoThread);
  // Out of in_flight_ (acked, nacked, expired or orphaned): its bytes come back.
  InFlight TakeInFlight(InFlightMap::iterator it) REQUIRES(kIoThread);
  void Fill() REQUIRES(kIoThread);
  // A read of the log came back (ReadLater's completion) for the state of
  // `generation`, started at `from`.
  void OnReadDone(uint64_t generation, uint64_t from, Status status, std::vector<MessageRef> read)
      REQUIRES(kIoThread);
  // Moves what was read at the cursor into ready_.
  void TakeRead(std::vector<MessageRef>& read) REQUIRES(kIoThread);
  Member* NextMemberWithRoom() REQUIRES(kIoThread);
  // Back to ready_ (or to the dead-letter sink after max deliveries).
  void Requeue(uint64_t offset, InFlight&& f, std::chrono::milliseconds delay, Backoff backoff) REQUIRES(kIoThread);
  void SendToDeadLetters(uint64_t offset, InFlight&& f) REQUIRES(kIoThread);
  // Offsets in [cursor_, to) are gone from the log: count them skipped.
  void SkipTo(uint64_t to) REQUIRES(kIoThread);
  void MarkAcked(uint64_t offset) REQUIRES(kIoThread);
  void AdvanceFloor() REQUIRES(kIoThread);
  void ReleaseKey(const MessageRef& message) REQUIRES(kIoThread);
  Member* FindMember(uint64_t member_id) REQUIRES(kIoThread);

  asio::io_context& io_;
  LogReader* log_;
  std::string name_;
  GroupLimits limits_;

  uint64_t ack_floor_ GUARDED_BY(kIoThread);
  uint64_t cursor_ GUARDED_BY(kIoThread);  // next offset to read from the log
  std::deque<uint8_t> acked_ GUARDED_BY(kIoThread);  // [ack_floor_, ack_floor_ + size)
  // Every message passes through ready_ and in_flight_: their nodes come from
  // a pool owned by the group instead of one malloc and free per message
  // (2 allocations per delivery before; see the closing note of issue 6).
  // Declared before the containers, so it outlives them.
  std::pmr::unsynchronized_pool_resource node_pool_;
  std::pmr::map<uint64_t, Ready> ready_ GUARDED_BY(kIoThread){&node_pool_};  // ordered: lowest offset first
  std::size_t ready_bytes_ GUARDED_BY(kIoThread) = 0;
  // Fill's read of the log, reused so that its capacity stays (emptied after each).
  std::vector<MessageRef> read_ GUARDED_BY(kIoThread);
  // A read is out on a reader thread: no other starts until it is back (it
  // stays set across Reset, so that reads of two states never overlap).
  bool read_in_flight_ GUARDED_BY(kIoThread) = false;
  InFlightMap in_flight_ GUARDED_BY(kIoThread){&node_pool_};
  std::size_t unacked_bytes_ GUARDED_BY(kIoThread) = 0;  // HeldBytes of in_flight_
  std::shared_ptr<UnackedBudget> budget_ GUARDED_BY(kIoThread);
  bool waiting_for_budget_ GUARDED_BY(kIoThread) = false;
  // Views into owned messages.
  std::pmr::unordered_map<std::string_view, uint64_t> key_owner_ GUARDED_BY(kIoThread){&node_pool_};
  std::set<uint64_t> dead_lettering_ GUARDED_BY(kIoThread);

  uint32_t max_deliveries_ GUARDED_BY(kIoThread);
  std::vector<std::chrono::milliseconds> backoff_ GUARDED_BY(kIoThread);
  DeadLetterSink dead_letter_sink_ GUARDED_BY(kIoThread);
  uint64_t skipped_ GUARDED_BY(kIoThread) = 0;
  uint64_t dead_lettered_ GUARDED_BY(kIoThread) = 0;
  uint64_t redeliveries_ GUARDED_BY(kIoThread) = 0;
  uint64_t delivered_ GUARDED_BY(kIoThread) = 0;
  uint64_t delivered_bytes_ GUARDED_BY(kIoThread) = 0;
  // Bumped by Reset: late completions of the old state are ignored.
  uint64_t generation_ GUARDED_BY(kIoThread) = 0;

  std::vector<Member> members_ GUARDED_BY(kIoThread);
  std::size_t next_member_ GUARDED_BY(kIoThread) = 0;  // round-robin position
  uint64_t next_member_id_ GUARDED_BY(kIoThread) = 1;
  bool pump_scheduled_ GUARDED_BY(kIoThread) = false;
  bool dirty_ GUARDED_BY(kIoThread) = false;
  bool closed_ GUARDED_BY(kIoThread) = false;
};

}  // namespace herald::broker
