#include "broker/metrics/histogram.h"

#include <algorithm>
#include <cmath>

namespace herald::broker::metrics {

void Histogram::Observe(double seconds) {
  if (!(seconds > 0)) seconds = 0;  // also NaN
  // Prometheus buckets are "less than or equal": the first bound >= seconds.
  auto it = std::lower_bound(kLatencyBounds.begin(), kLatencyBounds.end(), seconds);
  auto index = static_cast<std::size_t>(it - kLatencyBounds.begin());
  buckets_[index].fetch_add(1, std::memory_order_relaxed);
  // 2^64 ns is 584 years: clamp so an absurd value cannot wrap the sum.
  double ns = std::min(seconds * 1e9, 1e18);
  sum_ns_.fetch_add(static_cast<uint64_t>(std::llround(ns)), std::memory_order_relaxed);
}

HistogramSnapshot Histogram::Snapshot() const {
  HistogramSnapshot s;
  s.upper_bounds.assign(kLatencyBounds.begin(), kLatencyBounds.end());
  s.counts.reserve(buckets_.size());
  for (const auto& b : buckets_) {
    uint64_t n = b.load(std::memory_order_relaxed);
    s.counts.push_back(n);
    s.count += n;
  }
  s.sum = static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
  return s;
}

}  // namespace herald::broker::metrics
