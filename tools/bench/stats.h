#pragma once
// Pure statistics for broker-bench: percentiles of latency samples and medians
// over runs. No clocks or I/O here, so tests/unit/bench_stats_test.cc covers it.

#include <vector>

namespace herald::bench {

// Percentile p (0..100) of ascending `sorted` samples, nearest-rank method:
// the smallest sample with at least p% of the samples at or below it.
// 0 for no samples; p <= 0 gives the minimum, p >= 100 the maximum.
// REQUIRES: sorted is in ascending order.
double Percentile(const std::vector<double>& sorted, double p);

// Median of `values` in any order (mean of the two middle ones for an even
// count); 0 for none.
double Median(std::vector<double> values);

// The latency figures the bench reports, in the samples' unit (µs).
struct LatencySummary {
  std::size_t samples = 0;
  double p50 = 0, p99 = 0, p999 = 0, max = 0;
};
LatencySummary Summarize(std::vector<double> samples);

}  // namespace herald::bench
