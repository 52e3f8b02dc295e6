#include "broker/storage/rocksdb_logger.h"

#include <rocksdb/env.h>
#include <spdlog/spdlog.h>

#include <cstdarg>
#include <cstdio>
#include <string>

namespace herald::broker {

namespace {

class RocksDbLogger final : public rocksdb::Logger {
 public:
  // Info and above: debug lines cost a format each even when spdlog drops them.
  RocksDbLogger() : rocksdb::Logger(rocksdb::InfoLogLevel::INFO_LEVEL) {}

  using rocksdb::Logger::Logv;
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    const spdlog::level::level_enum to = Map(level);
    auto logger = spdlog::get("storage");
    if (!logger || !logger->should_log(to)) return;
    char line[1024];
    va_list copy;
    va_copy(copy, ap);
    int n = std::vsnprintf(line, sizeof line, format, copy);
    va_end(copy);
    if (n < 0) return;
    if (static_cast<std::size_t>(n) < sizeof line) {
      logger->log(to, "rocksdb: {}", std::string_view(line, static_cast<std::size_t>(n)));
      return;
    }
    std::string longer(static_cast<std::size_t>(n) + 1, '\0');
    std::vsnprintf(longer.data(), longer.size(), format, ap);
    longer.pop_back();
    logger->log(to, "rocksdb: {}", longer);
  }

 private:
  static spdlog::level::level_enum Map(rocksdb::InfoLogLevel level) {
    switch (level) {
      case rocksdb::InfoLogLevel::WARN_LEVEL:
        return spdlog::level::warn;
      case rocksdb::InfoLogLevel::ERROR_LEVEL:
      case rocksdb::InfoLogLevel::FATAL_LEVEL:
        return spdlog::level::err;
      default:
        return spdlog::level::debug;
    }
  }
};

}  // namespace

std::shared_ptr<rocksdb::Logger> NewRocksDbLogger() { return std::make_shared<RocksDbLogger>(); }

}  // namespace herald::broker
