#pragma once
// Arguments brokerctl reads itself rather than through CLI11, so that a bad
// value is an invalid argument (exit 5) with a message that says what is
// expected, not a usage error.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "herald/client.h"
#include "schemas/unit_flags.h"

namespace herald::ctl {

// brokerctl's timeouts (--connect-timeout, --timeout) have always counted
// seconds; a bare number still does, and units (250ms, 2m) work too.
inline constexpr wire::DurationLimits kSecondsFlag{.bare_unit = std::chrono::seconds(1)};

// What --from/--to accept; shown in help texts.
inline constexpr const char* kPositionHelp =
    "earliest, latest, an OFFSET, or an RFC 3339 TIMESTAMP (2026-11-25T10:00:00Z)";

// "earliest" | "latest" | OFFSET | TIMESTAMP; nullopt if none of these.
std::optional<StartPosition> ParsePosition(const std::string& text);
// "1s,5s,30s"; nullopt if an entry is not a duration.
std::optional<std::vector<std::chrono::milliseconds>> ParseDurationList(const std::string& text);
// A plain decimal uint64.
std::optional<uint64_t> ParseCount(const std::string& text);

// --retention-age/-bytes/-messages, as given on the command line.
class RetentionFlags {
 public:
  void AddTo(CLI::App* cmd);
  bool any() const { return !age_.empty() || !bytes_.empty() || !messages_.empty(); }
  // Overwrites in *r the limits that were given ("0" removes one); the others
  // stay. Returns an error message for a malformed value, else empty.
  std::string ApplyTo(Retention* r) const;

 private:
  std::string age_, bytes_, messages_;
};

}  // namespace herald::ctl
