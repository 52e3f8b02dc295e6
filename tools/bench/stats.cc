#include "stats.h"

#include <algorithm>
#include <cmath>

namespace herald::bench {

double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  // p% of n is often an integer that floating point misses by an ulp
  // (99.9 / 100 * 1000 = 999.0000000000001): such a hair above an integer
  // does not move the rank up.
  double exact = std::ceil(p * static_cast<double>(sorted.size()) / 100.0 - 1e-9);
  // Clamp before converting: a NaN or negative rank must not become a huge index.
  if (!(exact >= 1)) return sorted.front();
  if (exact >= static_cast<double>(sorted.size())) return sorted.back();
  return sorted[static_cast<std::size_t>(exact) - 1];
}

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  std::size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

LatencySummary Summarize(std::vector<double> samples) {
  LatencySummary s;
  s.samples = samples.size();
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  s.p50 = Percentile(samples, 50);
  s.p99 = Percentile(samples, 99);
  s.p999 = Percentile(samples, 99.9);
  s.max = samples.back();
  return s;
}

}  // namespace herald::bench
