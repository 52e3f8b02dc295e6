#include "broker/metrics/process_sample.h"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>

namespace herald::broker::metrics {

namespace {

// The fields of /proc/self/stat after the command name, which may itself
// hold spaces and parentheses: everything after the last ')'.
std::optional<std::istringstream> StatFields() {
  std::ifstream in("/proc/self/stat");
  std::string line;
  if (!std::getline(in, line)) return std::nullopt;
  auto close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  return std::istringstream(line.substr(close + 1));
}

// The kernel's boot time (Unix seconds), the epoch of a process's start time.
std::optional<double> BootTime() {
  std::ifstream in("/proc/stat");
  std::string key;
  double value = 0;
  while (in >> key) {
    if (key == "btime" && in >> value) return value;
    in.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
  return std::nullopt;
}

}  // namespace

std::optional<ProcessSample> ReadProcessSample() {
  auto fields = StatFields();
  auto boot = BootTime();
  if (!fields || !boot) return std::nullopt;
  // proc(5): after the name come state (3), ... utime (14), stime (15), ...
  // starttime (22), vsize (23), rss (24); field 3 is the first one here.
  std::string field;
  double utime = 0, stime = 0, starttime = 0, vsize = 0, rss_pages = 0;
  for (int n = 3; n <= 24 && (*fields >> field); ++n) {
    if (n == 14) utime = std::stod(field);
    if (n == 15) stime = std::stod(field);
    if (n == 22) starttime = std::stod(field);
    if (n == 23) vsize = std::stod(field);
    if (n == 24) rss_pages = std::stod(field);
  }
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  ProcessSample s;
  s.resident_memory_bytes = rss_pages * page;
  s.virtual_memory_bytes = vsize;
  s.cpu_seconds = (utime + stime) / ticks;
  s.start_time_seconds = *boot + starttime / ticks;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++s.open_fds;
  }
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) s.max_fds = static_cast<double>(limit.rlim_cur);
  return s;
}

}  // namespace herald::broker::metrics
