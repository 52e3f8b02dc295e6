#pragma once
// Histogram: a fixed-bucket latency histogram that any thread may Observe()
// into without a lock (one relaxed atomic add per bucket hit, one for the sum).
// Snapshot() reads it for /metrics; it is not atomic across buckets, so a
// scrape may miss an observation in flight, but its count always equals the
// sum of its buckets, which keeps the exposed +Inf bucket and _count equal.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace herald::broker::metrics {

struct HistogramSnapshot {
  std::vector<double> upper_bounds;  // seconds, ascending; +Inf is implicit
  std::vector<uint64_t> counts;      // per bucket, not cumulative; size = upper_bounds + 1 (+Inf)
  double sum = 0;                    // seconds
  uint64_t count = 0;
};

class Histogram {
 public:
  // Upper bounds in seconds, 50µs to 10s in 1-2.5-5 steps: the range from a
  // cache-served delivery to a stuck fsync.
  static constexpr std::array<double, 17> kLatencyBounds = {
      50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3,
      50e-3, 100e-3, 250e-3, 500e-3, 1.0, 2.5, 5.0, 10.0};

  Histogram() = default;
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  // Thread-safe. Negative and NaN values count as 0.
  void Observe(double seconds);
  HistogramSnapshot Snapshot() const;

 private:
  std::array<std::atomic<uint64_t>, kLatencyBounds.size() + 1> buckets_{};
  // Nanoseconds, so that the sum is an integer add (atomic<double> would need a CAS loop).
  std::atomic<uint64_t> sum_ns_{0};
};

}  // namespace herald::broker::metrics
