#pragma once
// Human units on command lines and in config files: durations like 90s, 15m,
// 7d, 250ms; sizes like 512MiB, 10GB, 4096. Shared by brokerd and brokerctl so
// that both read "7d" the same way.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace herald::wire {

// "<integer><unit>" with unit ms, s, m, h, d (or w); a bare "0" is zero.
std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text);
// "<integer>[unit]" with unit B, KiB, MiB, GiB, TiB, KB, MB, GB, TB (case-insensitive);
// no unit means bytes.
std::optional<uint64_t> ParseSize(std::string_view text);
// RFC 3339 ("2026-11-25T10:00:00Z", "…T10:00:00.250+01:00") to ms since the epoch.
std::optional<int64_t> ParseRfc3339(std::string_view text);

// The largest unit that divides evenly: 604800000 -> "7d", 90000 -> "90s", 0 -> "0".
std::string FormatDuration(std::chrono::milliseconds d);
// Binary units when exact: 536870912 -> "512MiB", 1000 -> "1000B".
std::string FormatSize(uint64_t bytes);
// ms since the epoch as RFC 3339 UTC with milliseconds.
std::string FormatRfc3339(int64_t ms);

}  // namespace herald::wire
