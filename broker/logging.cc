#include "broker/logging.h"

#include <mutex>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace herald::broker {

namespace {
constexpr const char* kLoggers[] = {"broker", "storage", "dispatch", "net"};
std::mutex g_mu;
}  // namespace

void EnsureLoggers() {
  std::lock_guard lock(g_mu);
  static auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  for (const char* name : kLoggers) {
    if (spdlog::get(name)) continue;
    auto logger = std::make_shared<spdlog::logger>(name, sink);
    logger->set_level(spdlog::get_level());
    spdlog::register_logger(logger);
  }
}

void SetLogLevel(spdlog::level::level_enum level) {
  EnsureLoggers();
  spdlog::set_level(level);  // every registered logger
}

}  // namespace herald::broker
