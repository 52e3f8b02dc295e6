#pragma once
// SendSchedule: when each message of a latency run is due, the same for the
// Herald and the NATS workload. Message i is due at t0 + i / rate; the
// latency of a message is measured from that time (no coordinated omission).
//
// WaitTurn(i) sleeps until message i is due and notes how late the wakeup
// came: the load generator's own error on this machine. It stays part of the
// measured latency (a late send is not hidden), and the run reports it beside
// the latency so a reader can tell the generator's delays from the broker's.

#include <cstdint>
#include <utility>
#include <vector>

#include "bench.h"

namespace herald::bench {

class SendSchedule {
 public:
  // 200 ms from now: the first sends are not already late when they are due.
  static Clock::time_point StartTime() { return Clock::now() + std::chrono::milliseconds(200); }

  // Several producers share one schedule by each holding a SendSchedule with
  // the same t0 and rate and taking every n-th message.
  SendSchedule(Clock::time_point t0, double rate) : t0_(t0), rate_(rate) {}

  Clock::time_point Due(uint64_t i) const;
  // Sleeps until message i is due; records how late it woke.
  void WaitTurn(uint64_t i);
  // One sample per WaitTurn, in µs.
  std::vector<double> TakeLateness() { return std::move(late_us_); }

 private:
  Clock::time_point t0_;
  double rate_;
  std::vector<double> late_us_;
};

}  // namespace herald::bench
