// broker-bench's statistics: nearest-rank percentiles, medians, the summary.

#include <algorithm>

#include <catch2/catch.hpp>

#include "tools/bench/stats.h"

using herald::bench::Median;
using herald::bench::Percentile;
using herald::bench::Summarize;

namespace {

std::vector<double> OneTo(int n) {
  std::vector<double> v;
  for (int i = 1; i <= n; ++i) v.push_back(i);
  return v;
}

}  // namespace

TEST_CASE("bench stats: percentile of no samples is 0", "[unit][bench]") {
  CHECK(Percentile({}, 50) == 0);
  CHECK(Summarize({}).samples == 0);
  CHECK(Summarize({}).max == 0);
}

TEST_CASE("bench stats: nearest-rank percentiles of 1..100", "[unit][bench]") {
  auto v = OneTo(100);
  CHECK(Percentile(v, 50) == 50);
  CHECK(Percentile(v, 99) == 99);
  CHECK(Percentile(v, 99.9) == 100);
  CHECK(Percentile(v, 100) == 100);
  CHECK(Percentile(v, 0) == 1);
  CHECK(Percentile(v, 0.5) == 1);
  CHECK(Percentile(v, 1.5) == 2);
}

TEST_CASE("bench stats: a rank that is an integer is not pushed up by rounding", "[unit][bench]") {
  // 99.9 / 100 * 1000 is 999.0000000000001 in doubles; the rank is 999.
  CHECK(Percentile(OneTo(1000), 99.9) == 999);
  CHECK(Percentile(OneTo(10000), 99.9) == 9990);
  CHECK(Percentile(OneTo(1000), 50) == 500);
  CHECK(Percentile(OneTo(3), 100.0 / 3 * 2) == 2);
}

TEST_CASE("bench stats: out-of-range p clamps to the extremes", "[unit][bench]") {
  auto v = OneTo(10);
  CHECK(Percentile(v, -5) == 1);
  CHECK(Percentile(v, 250) == 10);
  CHECK(Percentile({7}, 99.9) == 7);
}

TEST_CASE("bench stats: median of odd, even and unsorted input", "[unit][bench]") {
  CHECK(Median({}) == 0);
  CHECK(Median({3, 1, 2}) == 2);
  CHECK(Median({4, 1, 3, 2}) == 2.5);
}

TEST_CASE("bench stats: summary sorts its samples", "[unit][bench]") {
  std::vector<double> v = OneTo(1000);
  std::reverse(v.begin(), v.end());
  auto s = Summarize(v);
  CHECK(s.samples == 1000);
  CHECK(s.p50 == 500);
  CHECK(s.p99 == 990);
  CHECK(s.p999 == 999);
  CHECK(s.max == 1000);
}
