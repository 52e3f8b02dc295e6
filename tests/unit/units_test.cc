// Human units for flags and config files: durations, sizes, RFC 3339.

#include <catch2/catch.hpp>

#include "schemas/units.h"

using namespace herald::wire;
using namespace std::chrono_literals;

TEST_CASE("units: durations", "[unit][units]") {
  CHECK(ParseDuration("90s") == 90s);
  CHECK(ParseDuration("15m") == 15min);
  CHECK(ParseDuration("7d") == std::chrono::hours(24 * 7));
  CHECK(ParseDuration("250ms") == 250ms);
  CHECK(ParseDuration("0") == 0ms);
  CHECK_FALSE(ParseDuration("5x"));
  CHECK_FALSE(ParseDuration("5"));
  CHECK_FALSE(ParseDuration(""));
  CHECK_FALSE(ParseDuration("-1s"));
  CHECK_FALSE(ParseDuration("99999999999999999999d"));
  CHECK(FormatDuration(std::chrono::hours(24 * 7)) == "7d");
  CHECK(FormatDuration(90s) == "90s");
  CHECK(FormatDuration(1500ms) == "1500ms");
  CHECK(FormatDuration(0ms) == "0");
}

TEST_CASE("units: sizes", "[unit][units]") {
  CHECK(ParseSize("512MiB") == 512ull << 20);
  CHECK(ParseSize("10GB") == 10'000'000'000ull);
  CHECK(ParseSize("4096") == 4096u);
  CHECK(ParseSize("1kib") == 1024u);
  CHECK_FALSE(ParseSize("12 MiB"));
  CHECK_FALSE(ParseSize("MiB"));
  CHECK_FALSE(ParseSize("99999999999TiB"));
  CHECK(FormatSize(512ull << 20) == "512MiB");
  CHECK(FormatSize(1000) == "1000B");
}

TEST_CASE("units: RFC 3339 timestamps", "[unit][units]") {
  CHECK(ParseRfc3339("1970-01-01T00:00:00Z") == 0);
  CHECK(ParseRfc3339("2026-11-25T10:00:00.250Z") == 1795600800250);
  CHECK(ParseRfc3339("2026-11-25T11:00:00.250+01:00") == 1795600800250);
  CHECK_FALSE(ParseRfc3339("2026-11-25T10:00:00"));  // no zone
  CHECK_FALSE(ParseRfc3339("2026-13-25T10:00:00Z"));
  CHECK_FALSE(ParseRfc3339("yesterday"));
  CHECK(FormatRfc3339(1795600800250) == "2026-11-25T10:00:00.250Z");
  CHECK(ParseRfc3339(FormatRfc3339(-1)) == -1);
}
