#include "send_schedule.h"

#include <thread>

namespace herald::bench {

Clock::time_point SendSchedule::Due(uint64_t i) const {
  return t0_ + std::chrono::duration_cast<Clock::duration>(
                   std::chrono::duration<double>(static_cast<double>(i) / rate_));
}

void SendSchedule::WaitTurn(uint64_t i) {
  const auto due = Due(i);
  std::this_thread::sleep_until(due);
  late_us_.push_back(std::chrono::duration<double, std::micro>(Clock::now() - due).count());
}

}  // namespace herald::bench
