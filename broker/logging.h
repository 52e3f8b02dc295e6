#pragma once
// The broker's named loggers: broker, storage, dispatch, net. All write to
// stderr through one sink. Code fetches them with spdlog::get(name).

#include <spdlog/common.h>

namespace herald::broker {

// Creates any of the loggers that do not exist yet (idempotent, thread-safe).
void EnsureLoggers();
void SetLogLevel(spdlog::level::level_enum level);

}  // namespace herald::broker
