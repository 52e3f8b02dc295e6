#pragma once
// UnackedBudget: the payload bytes that the members of every group hold
// unacked, against one broker-wide limit. An unacked message keeps its whole
// record batch in memory until it is acked, so a client that subscribes in
// many groups and never acks could otherwise hold any amount; each group also
// has a limit of its own (GroupLimits::max_group_unacked_bytes).
//
// A group that finds the budget spent stops handing out messages and asks to
// be woken: Give() calls every waiter once bytes come back.
//
// Thread: the broker's I/O thread, like the groups that share it.

#include <cstddef>
#include <functional>
#include <utility>
#include <vector>

namespace herald::broker {

class UnackedBudget {
 public:
  explicit UnackedBudget(std::size_t limit) : limit_(limit) {}
  UnackedBudget(const UnackedBudget&) = delete;
  UnackedBudget& operator=(const UnackedBudget&) = delete;

  bool Fits(std::size_t bytes) const { return used_ + bytes <= limit_; }
  void Take(std::size_t bytes) { used_ += bytes; }
  void Give(std::size_t bytes) {
    used_ -= bytes;
    if (waiters_.empty() || used_ >= limit_) return;
    // A waiter may wait again at once (from inside its call): take the list first.
    auto waiters = std::exchange(waiters_, {});
    for (auto& wake : waiters) wake();
  }
  // Returns bytes without waking anyone: for a group destroyed as the broker
  // shuts down, when nothing may be posted to the io_context any more.
  void Forget(std::size_t bytes) { used_ -= bytes; }
  // wake() runs once, at the next Give that leaves room.
  void Wait(std::function<void()> wake) { waiters_.push_back(std::move(wake)); }

  std::size_t used() const { return used_; }
  std::size_t limit() const { return limit_; }

 private:
  std::size_t limit_;
  std::size_t used_ = 0;
  std::vector<std::function<void()>> waiters_;
};

}  // namespace herald::broker
