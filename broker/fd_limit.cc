#include "broker/fd_limit.h"

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

namespace herald::broker {

uint64_t DescriptorsNeeded(const BrokerConfig& config) {
  return uint64_t{config.max_connections} + config.max_pending_connections + kStorageDescriptors;
}

uint64_t RaiseDescriptorLimit(uint64_t needed) {
  auto log = spdlog::get("broker");
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    log->warn("cannot read the file descriptor limit: {}", std::strerror(errno));
    return 0;
  }
  if (limit.rlim_cur < needed && limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max == RLIM_INFINITY ? needed : std::min<rlim_t>(limit.rlim_max, needed);
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) {
      log->info("file descriptor limit raised from {} to {}", limit.rlim_cur, raised.rlim_cur);
      limit = raised;
    } else {
      log->warn("cannot raise the file descriptor limit from {}: {}", limit.rlim_cur, std::strerror(errno));
    }
  }
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < needed) {
    log->warn(
        "the file descriptor limit ({}) is below the {} brokerd may need (--max-connections, "
        "--max-pending-connections and {} for storage): above it, new connections wait in the "
        "listen backlog until others close; raise it (ulimit -n, LimitNOFILE=) or lower the limits",
        limit.rlim_cur, needed, kStorageDescriptors);
  }
  return limit.rlim_cur;
}

}  // namespace herald::broker
