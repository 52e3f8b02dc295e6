#include "schemas/unit_flags.h"

#include <cmath>
#include <cstdlib>

#include "schemas/units.h"

namespace herald::wire {

namespace {

std::string BareNumberNote(std::chrono::milliseconds unit) {
  if (unit.count() == 0) return "";
  if (unit == std::chrono::milliseconds(1)) return " (a bare number is milliseconds)";
  if (unit == std::chrono::seconds(1)) return " (a bare number is seconds)";
  return " (a bare number counts " + FormatDuration(unit) + ")";
}

// "5" for a bare number given to a flag read in ms is clearer as "5 (5ms)".
std::string Shown(std::string_view text, const std::string& formatted) {
  if (text == formatted) return std::string(text);
  return std::string(text) + " (" + formatted + ")";
}

// Digits with at most one '.', e.g. "5", "0.25"; what a bare number may look like.
bool IsDecimal(std::string_view text) {
  if (text.empty() || text.front() == '.' || text.back() == '.') return false;
  int dots = 0;
  for (char c : text) {
    if (c == '.') ++dots;
    else if (c < '0' || c > '9') return false;
  }
  return dots <= 1;
}

}  // namespace

std::optional<std::chrono::milliseconds> ParseDurationFlag(std::string_view text,
                                                           std::chrono::milliseconds bare_unit) {
  if (auto d = ParseDuration(text)) return d;
  if (bare_unit.count() <= 0 || !IsDecimal(text)) return std::nullopt;
  // Past 2^53 a double is no longer exact; no flag wants a duration of 285 millennia.
  double ms = std::strtod(std::string(text).c_str(), nullptr) * static_cast<double>(bare_unit.count());
  if (!(ms < 9e15)) return std::nullopt;
  return std::chrono::milliseconds(std::llround(ms));
}

std::string CheckDurationFlag(std::string_view text, const DurationLimits& limits) {
  auto d = ParseDurationFlag(text, limits.bare_unit);
  if (!d) {
    return "'" + std::string(text) + "' is not a duration: use 250ms, 30s, 5m, 12h or 7d" +
           BareNumberNote(limits.bare_unit);
  }
  if (*d < limits.min)
    return Shown(text, FormatDuration(*d)) + " is below the minimum " + FormatDuration(limits.min);
  if (*d > limits.max)
    return Shown(text, FormatDuration(*d)) + " is above the maximum " + FormatDuration(limits.max);
  return {};
}

std::string CheckSizeFlag(std::string_view text, const SizeLimits& limits) {
  auto size = ParseSize(text);
  if (!size)
    return "'" + std::string(text) + "' is not a size: use 4096, 512KiB, 4MiB or 10GB (a bare number is bytes)";
  if (*size < limits.min) return Shown(text, FormatSize(*size)) + " is below the minimum " + FormatSize(limits.min);
  if (*size > limits.max) return Shown(text, FormatSize(*size)) + " is above the maximum " + FormatSize(limits.max);
  return {};
}

CLI::Option* AddDurationFlag(CLI::App& app, const std::string& name,
                             std::function<void(std::chrono::milliseconds)> set,
                             std::chrono::milliseconds current, DurationLimits limits, const std::string& help) {
  auto check = [limits](std::string& text) { return CheckDurationFlag(text, limits); };
  // CLI11 runs the check before the callback, so the parse here succeeds.
  auto apply = [set = std::move(set), limits](const std::string& text) {
    set(*ParseDurationFlag(text, limits.bare_unit));
  };
  return app.add_option_function<std::string>(name, apply, help)
      ->type_name("DURATION")
      ->check(CLI::Validator(check, ""))
      ->default_str(FormatDuration(current));
}

CLI::Option* AddSizeFlag(CLI::App& app, const std::string& name, std::function<void(uint64_t)> set,
                         uint64_t current, SizeLimits limits, const std::string& help) {
  auto check = [limits](std::string& text) { return CheckSizeFlag(text, limits); };
  auto apply = [set = std::move(set)](const std::string& text) { set(*ParseSize(text)); };
  return app.add_option_function<std::string>(name, apply, help)
      ->type_name("SIZE")
      ->check(CLI::Validator(check, ""))
      ->default_str(FormatSize(current));
}

}  // namespace herald::wire
