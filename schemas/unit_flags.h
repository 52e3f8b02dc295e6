#pragma once
// Duration and size flags for every Herald command line (brokerd, brokerctl,
// the services) and brokerd's config file, so that all of them accept the same
// spellings and say the same thing when a value is wrong.
//
// A duration is 250ms, 30s, 5m, 12h, 7d or 2w; a size is 4096, 512KiB, 4MiB or
// 10GB. A bare number is read in the unit the flag has always used (its name
// says so: --default-ack-deadline-ms 30000 is 30 s, brokerctl's
// --connect-timeout 5 is 5 s), so existing command lines and configs keep
// their meaning.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

namespace herald::wire {

struct DurationLimits {
  // What a bare number counts: 1ms for the --*-ms flags, 1s for brokerctl's
  // timeouts; 0 for flags that never took one (then only a bare 0 is accepted).
  std::chrono::milliseconds bare_unit{1};
  std::chrono::milliseconds min{0};
  std::chrono::milliseconds max = std::chrono::milliseconds::max();
};

struct SizeLimits {
  uint64_t min = 0;
  uint64_t max = std::numeric_limits<uint64_t>::max();
};

// A duration with a unit, or a bare number (a decimal fraction allowed, e.g.
// 0.5 seconds) in `bare_unit`, rounded to whole milliseconds; nullopt if it is neither.
std::optional<std::chrono::milliseconds> ParseDurationFlag(std::string_view text,
                                                           std::chrono::milliseconds bare_unit);

// Empty if `text` is a duration (or size) within `limits`; otherwise what is
// wrong and what is accepted, in the flag's own units ("5ms is below the
// minimum 10ms"). CLI11 puts the flag's name in front.
std::string CheckDurationFlag(std::string_view text, const DurationLimits& limits);
std::string CheckSizeFlag(std::string_view text, const SizeLimits& limits);

// Registers a duration (size) option that checks its text with the function
// above and then hands the value to `set`. `current` is shown as the default
// (and printed by brokerd --print-config, which therefore parses back).
CLI::Option* AddDurationFlag(CLI::App& app, const std::string& name,
                             std::function<void(std::chrono::milliseconds)> set,
                             std::chrono::milliseconds current, DurationLimits limits, const std::string& help);
CLI::Option* AddSizeFlag(CLI::App& app, const std::string& name, std::function<void(uint64_t)> set,
                         uint64_t current, SizeLimits limits, const std::string& help);

inline CLI::Option* AddDurationFlag(CLI::App& app, const std::string& name, std::chrono::milliseconds* out,
                                    DurationLimits limits, const std::string& help) {
  return AddDurationFlag(app, name, [out](std::chrono::milliseconds d) { *out = d; }, *out, limits, help);
}

// A size into an integer field of any width; values past what it holds are refused.
template <class Int>
CLI::Option* AddSizeFlag(CLI::App& app, const std::string& name, Int* out, SizeLimits limits,
                         const std::string& help) {
  limits.max = std::min<uint64_t>(limits.max, std::numeric_limits<Int>::max());
  return AddSizeFlag(app, name, [out](uint64_t v) { *out = static_cast<Int>(v); }, static_cast<uint64_t>(*out),
                     limits, help);
}

}  // namespace herald::wire
