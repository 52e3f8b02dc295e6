#include "broker/dispatch/consumer_group.h"

#include <algorithm>

#include <asio/post.hpp>
#include <spdlog/spdlog.h>

namespace herald::broker {

namespace {
constexpr std::size_t kReadChunkMessages = 4096;
}

ConsumerGroup::ConsumerGroup(asio::io_context& io, LogReader* log, std::string name,
                             const GroupPosition& position, const GroupLimits& limits,
                             std::shared_ptr<UnackedBudget> budget)
    : io_(io),
      log_(log),
      name_(std::move(name)),
      limits_(limits),
      budget_(std::move(budget)),
      max_deliveries_(position.max_deliveries != 0 ? position.max_deliveries
                                                   : limits.default_max_deliveries),
      skipped_(position.skipped),
      dead_lettered_(position.dead_lettered),
      redeliveries_(position.redeliveries) {
  if (position.backoff_ms.empty()) {
    backoff_ = limits.default_backoff;
  } else {
    for (uint32_t ms : position.backoff_ms) backoff_.emplace_back(ms);
  }
  // Offsets before the log's start are gone (retention): nothing to deliver.
  if (position.ack_floor < log_->earliest()) skipped_ += log_->earliest() - position.ack_floor;
  ack_floor_ = std::max(position.ack_floor, log_->earliest());
  cursor_ = ack_floor_;
  for (uint64_t offset : position.acked_above) {
    if (offset < ack_floor_ || offset - ack_floor_ >= limits_.max_ack_gap) continue;
    std::size_t index = offset - ack_floor_;
    if (acked_.size() <= index) acked_.resize(index + 1, 0);
    acked_[index] = 1;
  }
  while (!acked_.empty() && acked_.front()) {
    acked_.pop_front();
    ++ack_floor_;
    ++cursor_;
  }
}

ConsumerGroup::~ConsumerGroup() {
  // A closed group gave its bytes back already (and woke the waiting groups);
  // one destroyed without Close is going with the broker.
  if (budget_ != nullptr) budget_->Forget(unacked_bytes_);
}

void ConsumerGroup::SetPolicy(uint32_t max_deliveries,
                              std::vector<std::chrono::milliseconds> backoff) {
  kIoThread.AssertHeld();
  if (max_deliveries != 0 && max_deliveries != max_deliveries_) {
    max_deliveries_ = max_deliveries;
    dirty_ = true;
  }
  if (!backoff.empty() && backoff != backoff_) {
    backoff_ = std::move(backoff);
    dirty_ = true;
  }
}

uint64_t ConsumerGroup::AddMember(std::weak_ptr<SubscriberSink> sink, uint32_t subscription_id,
                                  uint32_t window, std::chrono::milliseconds ack_deadline) {
  kIoThread.AssertHeld();
  Member m;
  m.id = next_member_id_++;
  m.sink = std::move(sink);
  m.subscription_id = subscription_id;
  m.window = std::min(window != 0 ? window : limits_.default_window, limits_.max_window);
  m.ack_deadline = ack_deadline.count() != 0 ? ack_deadline : limits_.default_ack_deadline;
  members_.push_back(std::move(m));
  SchedulePump();
  return members_.back().id;
}

void ConsumerGroup::RemoveMember(uint64_t member_id) {
  kIoThread.AssertHeld();
  auto it = std::find_if(members_.begin(), members_.end(),
                         [&](const Member& m) { return m.id == member_id; });
  if (it == members_.end()) return;
  members_.erase(it);
  if (next_member_ >= members_.size()) next_member_ = 0;
  // Everything the member held goes back, to be redelivered at once.
  std::vector<uint64_t> orphaned;
  for (const auto& [offset, f] : in_flight_)
    if (f.member_id == member_id) orphaned.push_back(offset);
  for (uint64_t offset : orphaned) {
    Requeue(offset, TakeInFlight(in_flight_.find(offset)), {}, Backoff::kNone);
  }
  SchedulePump();
}

void ConsumerGroup::Close() {
  kIoThread.AssertHeld();
  closed_ = true;
  members_.clear();
  key_owner_.clear();
  while (!in_flight_.empty()) TakeInFlight(in_flight_.begin());
  ready_.clear();
  ready_bytes_ = 0;
  dead_lettering_.clear();
}

bool ConsumerGroup::Reset(uint64_t start) {
  kIoThread.AssertHeld();
  if (!members_.empty()) return false;
  ++generation_;
  key_owner_.clear();
  while (!in_flight_.empty()) TakeInFlight(in_flight_.begin());
  ready_.clear();
  ready_bytes_ = 0;
  dead_lettering_.clear();
  acked_.clear();
  ack_floor_ = cursor_ = std::clamp(start, log_->earliest(), log_->end());
  dirty_ = true;
  return true;
}

std::size_t ConsumerGroup::HeldBytes(const MessageRef& message, const NackReason& reason) {
  return message.record().payload.size() + (reason ? reason->size() : 0);
}

ConsumerGroup::InFlight ConsumerGroup::TakeInFlight(InFlightMap::iterator it) {
  InFlight f = std::move(it->second);
  in_flight_.erase(it);
  const std::size_t held = HeldBytes(f.message, f.last_reason);
  unacked_bytes_ -= held;
  if (budget_ != nullptr) budget_->Give(held);
  return f;
}

bool ConsumerGroup::RoomForUnacked(std::size_t bytes) {
  // One message always goes out, so a message above the limits still flows.
  if (in_flight_.empty()) return true;
  if (unacked_bytes_ + bytes > limits_.max_group_unacked_bytes) return false;  // an ack pumps again
  if (budget_ == nullptr || budget_->Fits(bytes)) return true;
  if (!waiting_for_budget_) {
    waiting_for_budget_ = true;
    budget_->Wait([weak = weak_from_this()] {
      kIoThread.AssertHeld();  // UnackedBudget::Give runs on the I/O thread
      if (auto self = weak.lock()) {
        self->waiting_for_budget_ = false;
        self->SchedulePump();
      }
    });
  }
  return false;
}

ConsumerGroup::Member* ConsumerGroup::FindMember(uint64_t member_id) {
  for (auto& m : members_)
    if (m.id == member_id) return &m;
  return nullptr;
}

void ConsumerGroup::Requeue(uint64_t offset, InFlight&& f, std::chrono::milliseconds delay,
                            Backoff backoff) {
  if (Member* m = FindMember(f.member_id)) --m->in_flight;
  if (f.delivery_count >= max_deliveries_) return SendToDeadLetters(offset, std::move(f));
  if (delay.count() <= 0 && backoff == Backoff::kApply && !backoff_.empty()) {
    delay = backoff_[std::min<std::size_t>(f.delivery_count, backoff_.size()) - 1];
  }
  Clock::time_point not_before = delay.count() > 0 ? Clock::now() + delay : Clock::time_point{};
  ready_bytes_ += HeldBytes(f.message, f.last_reason);
  // The key stays owned by this offset: later messages of the key wait for it.
  ready_.emplace(offset, Ready{std::move(f.message), f.delivery_count, not_before,
                               std::move(f.last_reason), f.member_id});
}

void ConsumerGroup::SendToDeadLetters(uint64_t offset, InFlight&& f) {
  if (!dead_letter_sink_) {
    // No dead-letter topic (unit tests): the message is dropped as if acked.
    ++dead_lettered_;
    ReleaseKey(f.message);
    MarkAcked(offset);
    return;
  }
  // The key stays owned until the dead letter is stored: order per key holds.
  dead_lettering_.insert(offset);
  DeadLetter letter{f.message, name_, f.delivery_count, f.last_reason ? *f.last_reason : std::string()};
  dead_letter_sink_(std::move(letter), [self = shared_from_this(), offset, f = std::move(f),
                                         generation = generation_](bool stored) mutable {
    kIoThread.AssertHeld();  // DeadLetterSink's contract: done runs on the I/O thread
    if (self->closed_ || generation != self->generation_) return;
    self->dead_lettering_.erase(offset);
    if (stored) {
      ++self->dead_lettered_;
      self->dirty_ = true;
      self->ReleaseKey(f.message);
      self->MarkAcked(offset);
    } else {
      // Keep the message; it is tried again (and comes back here) after a pause.
      spdlog::get("dispatch")->error("group {}: offset {} could not be dead-lettered; retrying",
                                     self->name_, offset);
      self->ready_bytes_ += HeldBytes(f.message, f.last_reason);
      self->ready_.emplace(offset, Ready{std::move(f.message), f.delivery_count - 1,
                                         Clock::now() + std::chrono::seconds(1),
                                         std::move(f.last_reason)});
    }
    self->SchedulePump();
  });
}

void ConsumerGroup::ReleaseKey(const MessageRef& message) {
  const RecordView& r = message.record();
  if (!r.has_key) return;
  auto it = key_owner_.find(r.key);
  if (it != key_owner_.end() && it->second == message.offset()) key_owner_.erase(it);
}

void ConsumerGroup::MarkAcked(uint64_t offset) {
  if (offset < ack_floor_) return;
  std::size_t index = offset - ack_floor_;
  if (index >= acked_.size()) return;  // never read: cannot be acked yet
  acked_[index] = 1;
  AdvanceFloor();
}

void ConsumerGroup::AdvanceFloor() {
  while (!acked_.empty() && acked_.front()) {
    acked_.pop_front();
    ++ack_floor_;
    dirty_ = true;
  }
}

void ConsumerGroup::Ack(uint64_t member_id, std::span<const uint64_t> offsets) {
  kIoThread.AssertHeld();
  if (closed_) return;
  for (uint64_t offset : offsets) {
    if (auto it = in_flight_.find(offset); it != in_flight_.end()) {
      if (it->second.member_id != member_id) continue;
      InFlight f = TakeInFlight(it);
      if (Member* m = FindMember(member_id)) --m->in_flight;
      ReleaseKey(f.message);
      MarkAcked(offset);
    } else if (auto r = ready_.find(offset);
               r != ready_.end() && r->second.last_member_id == member_id) {
      // A late ack for a message already queued for redelivery: it was
      // processed after all, so it need not go out again.
      ready_bytes_ -= HeldBytes(r->second.message, r->second.last_reason);
      ReleaseKey(r->second.message);
      ready_.erase(r);
      MarkAcked(offset);
    }
  }
  SchedulePump();
}

void ConsumerGroup::Nack(uint64_t member_id, std::span<const uint64_t> offsets,
                         std::chrono::milliseconds delay, std::string_view reason) {
  kIoThread.AssertHeld();
  if (closed_) return;
  // One copy of the reason for every offset of this nack.
  NackReason shared = reason.empty() ? nullptr : std::make_shared<const std::string>(reason);
  for (uint64_t offset : offsets) {
    auto it = in_flight_.find(offset);
    if (it == in_flight_.end() || it->second.member_id != member_id) continue;
    InFlight f = TakeInFlight(it);
    if (shared) f.last_reason = shared;
    Requeue(offset, std::move(f), delay, Backoff::kApply);
  }
  SchedulePump();
}

void ConsumerGroup::ExtendDeadline(uint64_t member_id, std::span<const uint64_t> offsets) {
  kIoThread.AssertHeld();
  if (closed_) return;
  Clock::time_point now = Clock::now();
  for (uint64_t offset : offsets) {
    auto it = in_flight_.find(offset);
    if (it == in_flight_.end() || it->second.member_id != member_id) continue;
    Member* m = FindMember(member_id);
    it->second.deadline = now + (m ? m->ack_deadline : limits_.default_ack_deadline);
  }
}

void ConsumerGroup::Tick(Clock::time_point now) {
  kIoThread.AssertHeld();
  if (closed_) return;
  bool due = false;
  std::vector<uint64_t> expired;
  for (const auto& [offset, f] : in_flight_)
    if (f.deadline <= now) expired.push_back(offset);
  for (uint64_t offset : expired) {
    Requeue(offset, TakeInFlight(in_flight_.find(offset)), {}, Backoff::kApply);
    due = true;
  }
  for (const auto& [offset, r] : ready_) {
    if (r.not_before != Clock::time_point{} && r.not_before <= now) {
      due = true;
      break;
    }
  }
  if (due) SchedulePump();
}

void ConsumerGroup::SchedulePump() {
  if (pump_scheduled_ || closed_) return;
  pump_scheduled_ = true;
  asio::post(io_, [self = shared_from_this()] {
    kIoThread.AssertHeld();  // posted to the broker's io_context
    self->pump_scheduled_ = false;
    self->Pump();
  });
}

void ConsumerGroup::SkipTo(uint64_t to) {
  if (to <= cursor_) return;
  spdlog::get("dispatch")->warn("group {}: offsets {}..{} were removed by retention before the "
                                "group read them; continuing at {}", name_, cursor_, to - 1, to);
  // Offsets above the tracked range were never acked; inside it, some were
  // (acks restored from the stored position).
  const uint64_t tracked_end = ack_floor_ + acked_.size();
  uint64_t newly_skipped = 0;
  for (uint64_t o = cursor_; o < std::min(to, tracked_end); ++o)
    if (!acked_[o - ack_floor_]) ++newly_skipped;
  if (to > tracked_end) newly_skipped += to - std::max(cursor_, tracked_end);
  skipped_ += newly_skipped;
  dirty_ = true;
  if (ack_floor_ == cursor_) {
    // Nothing outstanding below the cursor: the floor jumps, whatever the gap.
    acked_.erase(acked_.begin(), acked_.begin() + static_cast<std::ptrdiff_t>(
                                                      std::min<uint64_t>(acked_.size(), to - ack_floor_)));
    ack_floor_ = cursor_ = to;
    while (!acked_.empty() && acked_.front()) {  // acked before a restart: not to be read
      acked_.pop_front();
      ++ack_floor_;
      ++cursor_;
    }
    return;
  }
  // Messages below the cursor are still out: the floor waits for them.
  if (acked_.size() < to - ack_floor_) acked_.resize(to - ack_floor_, 0);
  for (uint64_t o = cursor_; o < to; ++o) acked_[o - ack_floor_] = 1;
  cursor_ = to;
  AdvanceFloor();
}

void ConsumerGroup::OnLogTruncated() {
  kIoThread.AssertHeld();
  if (closed_) return;
  if (cursor_ < log_->earliest()) SkipTo(log_->earliest());
  SchedulePump();
}

void ConsumerGroup::Fill() {
  if (cursor_ < log_->earliest()) SkipTo(log_->earliest());
  std::size_t target = 0;
  for (const auto& m : members_) target += m.window;
  target = std::clamp<std::size_t>(target, 64, 65'536);
  if (ready_.size() >= target || ready_bytes_ >= limits_.max_ready_bytes) return;
  if (cursor_ >= log_->end() || cursor_ - ack_floor_ >= limits_.max_ack_gap) return;

  if (read_in_flight_) return;  // its completion pumps again

  std::vector<MessageRef>& read = read_;
  read.clear();
  std::size_t room = std::min<std::size_t>(
      {target - ready_.size(), limits_.max_ack_gap - (cursor_ - ack_floor_), kReadChunkMessages});
  const std::size_t max_bytes = limits_.max_ready_bytes - ready_bytes_;
  if (log_->ReadCached(cursor_, room, max_bytes, &read)) {
    TakeRead(read);
    return;
  }
  read_in_flight_ = true;
  log_->ReadLater(cursor_, room, max_bytes,
                  [self = shared_from_this(), generation = generation_, from = cursor_](
                      Status status, std::vector<MessageRef> messages) {
                    kIoThread.AssertHeld();  // LogReader's contract: done runs on the I/O thread
                    self->OnReadDone(generation, from, std::move(status), std::move(messages));
                  });
}

void ConsumerGroup::OnReadDone(uint64_t generation, uint64_t from, Status status,
                               std::vector<MessageRef> read) {
  read_in_flight_ = false;
  // Closed: the log may be gone too. Reset: the read is of a state forgotten.
  if (closed_ || generation != generation_) return SchedulePump();
  if (!status.ok()) {
    // Tried again when the group is next woken (an append, an ack, a tick).
    spdlog::get("dispatch")->error("group {}: reading the log at {} failed: {}", name_, from,
                                   status.message());
    return;
  }
  // A truncation moved the cursor past part of what was read (or all of it:
  // then the next pump reads on from there).
  const bool moved = cursor_ != from;
  const uint64_t cursor = cursor_;
  std::erase_if(read, [cursor](const MessageRef& m) { return m.offset() < cursor; });
  if (!read.empty() || !moved) TakeRead(read);
  SchedulePump();
}

void ConsumerGroup::TakeRead(std::vector<MessageRef>& read) {
  if (read.empty() && cursor_ < log_->end()) {
    // Memory and the store both had nothing at the cursor: not expected
    // below end(); say so rather than spin.
    spdlog::get("dispatch")->warn("group {}: nothing read at {} though the log ends at {}", name_,
                                  cursor_, log_->end());
  }
  for (auto& message : read) {
    uint64_t offset = message.offset();
    // The log skipped ahead (retention removed what we were about to read).
    if (offset != cursor_) SkipTo(offset);
    std::size_t index = cursor_ - ack_floor_;
    ++cursor_;
    if (index < acked_.size() && acked_[index]) continue;  // acked before a restart
    if (acked_.size() <= index) acked_.resize(index + 1, 0);
    ready_bytes_ += HeldBytes(message, nullptr);
    ready_.emplace_hint(ready_.end(), offset, Ready{std::move(message), 0, {}});
  }
  read.clear();  // the moved-from references hold no batch
}

ConsumerGroup::Member* ConsumerGroup::NextMemberWithRoom() {
  for (std::size_t tried = 0; tried < members_.size(); ++tried) {
    Member& m = members_[next_member_];
    next_member_ = (next_member_ + 1) % members_.size();
    if (m.in_flight + m.batch.size() >= m.window) continue;
    auto sink = m.sink.lock();
    if (!sink || !sink->Writable()) continue;
    return &m;
  }
  return nullptr;
}

void ConsumerGroup::Pump() {
  if (closed_ || members_.empty()) return;
  Clock::time_point now = Clock::now();
  bool progress = true;
  while (progress) {
    progress = false;
    Fill();
    for (auto it = ready_.begin(); it != ready_.end();) {
      Ready& r = it->second;
      if (r.not_before != Clock::time_point{} && r.not_before > now) {
        ++it;
        continue;
      }
      const RecordView& record = r.message.record();
      if (record.has_key) {
        auto owner = key_owner_.find(record.key);
        if (owner != key_owner_.end() && owner->second != it->first) {
          ++it;  // an earlier message of this key is unacked
          continue;
        }
      }
      const std::size_t held = HeldBytes(r.message, r.last_reason);
      if (!RoomForUnacked(held)) break;
      Member* m = NextMemberWithRoom();
      if (m == nullptr) break;
      uint64_t offset = it->first;
      uint32_t count = r.delivery_count + 1;
      if (record.has_key) key_owner_.emplace(record.key, offset);
      m->batch.push_back({r.message, count});
      if (count > 1) ++redeliveries_;
      ++delivered_;
      delivered_bytes_ += record.payload.size();
      in_flight_.emplace(offset, InFlight{std::move(r.message), count, m->id, now + m->ack_deadline,
                                          std::move(r.last_reason)});
      ready_bytes_ -= held;
      unacked_bytes_ += held;
      if (budget_ != nullptr) budget_->Take(held);
      it = ready_.erase(it);
      progress = true;
    }
    // Hand each member its batch. Deliver() may not call back into the group.
    for (auto& m : members_) {
      if (m.batch.empty()) continue;
      m.in_flight += static_cast<uint32_t>(m.batch.size());
      if (auto sink = m.sink.lock()) sink->Deliver(m.subscription_id, m.batch);
      m.batch.clear();
    }
    // Read further only if this pass emptied what was ready.
    if (progress && !ready_.empty()) break;
  }
}

GroupPosition ConsumerGroup::Position() const {
  kIoThread.AssertHeld();
  GroupPosition p;
  p.ack_floor = ack_floor_;
  for (std::size_t i = 0; i < acked_.size(); ++i)
    if (acked_[i]) p.acked_above.push_back(ack_floor_ + i);
  p.max_deliveries = max_deliveries_;
  for (auto ms : backoff_) p.backoff_ms.push_back(static_cast<uint32_t>(ms.count()));
  p.skipped = skipped_;
  p.dead_lettered = dead_lettered_;
  p.redeliveries = redeliveries_;
  return p;
}

std::optional<int64_t> ConsumerGroup::HeldTimestampAt(uint64_t offset) const {
  kIoThread.AssertHeld();
  if (auto it = in_flight_.find(offset); it != in_flight_.end()) return it->second.message.timestamp_ms();
  if (auto it = ready_.find(offset); it != ready_.end()) return it->second.message.timestamp_ms();
  return std::nullopt;
}

GroupStats ConsumerGroup::Stats() const {
  kIoThread.AssertHeld();
  GroupStats s;
  s.ack_floor = ack_floor_;
  s.members = static_cast<uint32_t>(members_.size());
  s.in_flight = static_cast<uint32_t>(in_flight_.size());
  s.read_cursor = cursor_;
  s.ready = static_cast<uint32_t>(ready_.size());
  uint64_t acked_above = static_cast<uint64_t>(std::count(acked_.begin(), acked_.end(), 1));
  uint64_t end = std::max(log_->end(), ack_floor_);
  s.lag = end - ack_floor_ - std::min(acked_above, end - ack_floor_);
  s.skipped = skipped_;
  s.dead_lettered = dead_lettered_;
  s.redeliveries = redeliveries_;
  s.delivered = delivered_;
  s.delivered_bytes = delivered_bytes_;
  s.max_deliveries = max_deliveries_;
  s.backoff = backoff_;
  return s;
}

}  // namespace herald::broker
