// broker-bench's report beside the floors: each target's limit comes from the
// run's floors, and a value at the limit meets it.

#include <sstream>

#include <catch2/catch.hpp>

#include "tools/bench/bench.h"
#include "tools/bench/report_cases.h"

using namespace herald::bench;

namespace {

void Add(Cases& cases, const std::string& name, const std::string& system, const char* kind, double p50,
         double p99) {
  cases.order.push_back(name);
  Samples& s = cases.by_case[name][system];
  s.latency_kind = kind;
  s.p50 = {p50};
  s.p99 = {p99};
  s.p999 = {p99};
  s.max = {p99};
}

// Floors: echo p50 20 µs, p99 50 µs; write + fdatasync p50 1000 µs.
Cases WithFloors() {
  Cases cases;
  Add(cases, "echo 100B", "floor", kEchoRoundTrip, 20, 50);
  Add(cases, "fsync 4096B", "floor", kWriteSyncLatency, 1000, 3000);
  return cases;
}

std::string Targets(const Cases& cases) {
  std::ostringstream md;
  WriteTargets(md, cases);
  return md.str();
}

}  // namespace

TEST_CASE("bench report: targets computed from the floors, met at the limit", "[unit][bench]") {
  Cases cases = WithFloors();
  Add(cases, "publish 100B one-at-a-time, Herald fsync interval", "herald", kPublishRoundTrip, 30, 90);
  Add(cases, "publish 100B one-at-a-time", "herald", kPublishRoundTrip, 1400, 5000);
  Add(cases, "latency@10000 100B, Herald fsync interval", "herald", kEndToEndLatency, 41, 300);
  Add(cases, "latency@10000 100B", "herald", kEndToEndLatency, 1500, 9000);
  const std::string md = Targets(cases);
  CHECK_THAT(md, Catch::Contains("| publish 100B one-at-a-time, Herald fsync interval | 30 µs | "
                                 "1.5 × echo p50 = 30 µs | met |"));
  CHECK_THAT(md, Catch::Contains("| publish 100B one-at-a-time | 1400 µs | "
                                 "echo p50 + 1.3 × fdatasync p50 = 1320 µs | **not met** |"));
  CHECK_THAT(md, Catch::Contains("| 41 µs | 2 × echo p50 = 40 µs | **not met** |"));
  CHECK_THAT(md, Catch::Contains("| 300 µs | 6 × echo p99 = 300 µs | met |"));
  CHECK_THAT(md, Catch::Contains("| latency@10000 100B | 1500 µs | "
                                 "echo p50 + 1.5 × fdatasync p50 = 1520 µs | met |"));
}

TEST_CASE("bench report: without floors or cases the targets say not measured", "[unit][bench]") {
  Cases cases;
  Add(cases, "latency@10000 100B", "herald", kEndToEndLatency, 1500, 9000);
  const std::string md = Targets(cases);
  CHECK_THAT(md, Catch::Contains("| 1500 µs | echo p50 + 1.5 × fdatasync p50 = not measured | not measured |"));
  CHECK_THAT(md, Catch::Contains("| one-at-a-time publish, `--fsync always`: round trip p50 | – | not measured |"));
}

TEST_CASE("bench report: cases from more producers are not the targets' cases", "[unit][bench]") {
  Cases cases = WithFloors();
  Add(cases, "latency@10000 from 4 producers 100B", "herald", kEndToEndLatency, 10, 10);
  cases.by_case["latency@10000 from 4 producers 100B"]["herald"].producers = 4;
  CHECK_THAT(Targets(cases), !Catch::Contains("from 4 producers"));
}
