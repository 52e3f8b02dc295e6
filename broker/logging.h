#pragma once
// The broker's named loggers: broker, storage, dispatch, net. All write to
// stderr through one sink. Code fetches them with spdlog::get(name).

#include <optional>
#include <string_view>

#include <spdlog/common.h>

namespace herald::broker {

enum class LogFormat {
  kText,  // spdlog's default pattern, for people
  // One JSON object per line, for log shippers:
  //   {"ts":"2026-11-25T10:00:00.250Z","level":"info","logger":"broker","msg":"..."}
  // ts is RFC 3339 UTC with milliseconds; msg is escaped, and bytes that are
  // not UTF-8 become U+FFFD, so every line parses.
  kJson,
};

// "text" or "json"; nullopt otherwise.
std::optional<LogFormat> ParseLogFormat(std::string_view name);

// Creates any of the loggers that do not exist yet (idempotent, thread-safe).
void EnsureLoggers();
void SetLogLevel(spdlog::level::level_enum level);
// Applies to every line written after the call, by every broker logger.
void SetLogFormat(LogFormat format);

}  // namespace herald::broker
