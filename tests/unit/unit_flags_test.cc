// The duration and size flags every Herald command line shares: the
// spellings they accept, the integer aliases of the old flags, and what they
// say about a bad value.

#include <catch2/catch.hpp>

#include "schemas/unit_flags.h"

using namespace herald::wire;
using namespace std::chrono_literals;

namespace {

// Parses `args` (without the program name) into `app`; the error text, or empty.
std::string Parse(CLI::App& app, std::vector<std::string> args) {
  std::reverse(args.begin(), args.end());  // CLI11 takes them last-first
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    return e.what();
  }
  return {};
}

}  // namespace

TEST_CASE("unit flags: a bare number is read in the flag's old unit", "[unit][units]") {
  CHECK(ParseDurationFlag("30000", 1ms) == 30s);
  CHECK(ParseDurationFlag("5", 1s) == 5s);
  CHECK(ParseDurationFlag("0.25", 1s) == 250ms);
  CHECK(ParseDurationFlag("30s", 1ms) == 30s);
  CHECK(ParseDurationFlag("250ms", 1s) == 250ms);
  CHECK(ParseDurationFlag("7d", 1s) == std::chrono::hours(24 * 7));
  CHECK(ParseDurationFlag("0", 0ms) == 0ms);
  CHECK_FALSE(ParseDurationFlag("600", 0ms));  // a flag that never took a bare number
  CHECK_FALSE(ParseDurationFlag("1.", 1s));
  CHECK_FALSE(ParseDurationFlag("1.2.3", 1s));
  CHECK_FALSE(ParseDurationFlag("-1", 1s));
  CHECK_FALSE(ParseDurationFlag("30x", 1ms));
  CHECK_FALSE(ParseDurationFlag("", 1ms));
  CHECK_FALSE(ParseDurationFlag("99999999999999999999", 1s));
}

TEST_CASE("unit flags: range errors are in the flag's own units", "[unit][units]") {
  DurationLimits deadline{.bare_unit = 1ms, .min = 10ms, .max = std::chrono::hours(24)};
  CHECK(CheckDurationFlag("30s", deadline).empty());
  CHECK(CheckDurationFlag("30000", deadline).empty());
  CHECK(CheckDurationFlag("5ms", deadline) == "5ms is below the minimum 10ms");
  CHECK(CheckDurationFlag("5", deadline) == "5 (5ms) is below the minimum 10ms");
  CHECK(CheckDurationFlag("2d", deadline) == "2d is above the maximum 1d");
  CHECK(CheckDurationFlag("30x", deadline) ==
        "'30x' is not a duration: use 250ms, 30s, 5m, 12h or 7d (a bare number is milliseconds)");
  CHECK(CheckDurationFlag("x", {.bare_unit = 1s}) ==
        "'x' is not a duration: use 250ms, 30s, 5m, 12h or 7d (a bare number is seconds)");
  CHECK(CheckDurationFlag("x", {.bare_unit = 0ms}) == "'x' is not a duration: use 250ms, 30s, 5m, 12h or 7d");

  SizeLimits payload{.min = 1, .max = 256u << 20};
  CHECK(CheckSizeFlag("1MiB", payload).empty());
  CHECK(CheckSizeFlag("1048576", payload).empty());
  CHECK(CheckSizeFlag("1GiB", payload) == "1GiB is above the maximum 256MiB");
  CHECK(CheckSizeFlag("0", payload) == "0 (0B) is below the minimum 1B");
  CHECK(CheckSizeFlag("4Mb!", payload) ==
        "'4Mb!' is not a size: use 4096, 512KiB, 4MiB or 10GB (a bare number is bytes)");
}

TEST_CASE("unit flags: CLI11 options set the value and name the flag in errors", "[unit][units]") {
  std::chrono::milliseconds deadline = 30s;
  uint32_t payload = 1u << 20;
  auto make = [&](CLI::App& app) {
    AddDurationFlag(app, "--ack-deadline-ms", &deadline, {.bare_unit = 1ms, .min = 10ms}, "deadline");
    AddSizeFlag(app, "--max-payload-bytes", &payload, {.min = 1}, "payload");
  };
  {
    CLI::App app;
    make(app);
    CHECK(app.get_option("--ack-deadline-ms")->get_default_str() == "30s");
    CHECK(app.get_option("--max-payload-bytes")->get_default_str() == "1MiB");
    CHECK(Parse(app, {"--ack-deadline-ms", "2m", "--max-payload-bytes", "4MiB"}).empty());
    CHECK(deadline == 2min);
    CHECK(payload == 4u << 20);
  }
  {
    CLI::App app;
    make(app);
    CHECK(Parse(app, {"--ack-deadline-ms", "1500", "--max-payload-bytes", "512"}).empty());
    CHECK(deadline == 1500ms);
    CHECK(payload == 512u);
  }
  {
    CLI::App app;
    make(app);
    CHECK(Parse(app, {"--ack-deadline-ms", "5ms"}) == "--ack-deadline-ms: 5ms is below the minimum 10ms");
  }
  {
    CLI::App app;
    make(app);
    // The field is 32 bits: the limit follows from it.
    CHECK(Parse(app, {"--max-payload-bytes", "4GiB"}) == "--max-payload-bytes: 4GiB is above the maximum 4294967295B");
  }
}
