#pragma once
// ProcessSample: this process's resources as the Prometheus client libraries
// export them for every process (process_resident_memory_bytes,
// process_cpu_seconds_total, process_open_fds, ...), read from /proc, so
// that dashboards and alerts built for any exporter work on brokerd too.
//
// Reads only /proc (no disk): cheap enough for a scrape on the I/O thread.

#include <optional>

namespace herald::broker::metrics {

struct ProcessSample {
  double resident_memory_bytes = 0;
  double virtual_memory_bytes = 0;
  double cpu_seconds = 0;         // user + system
  double open_fds = 0;
  double max_fds = 0;             // the soft RLIMIT_NOFILE
  double start_time_seconds = 0;  // Unix time the process started
};

// nullopt where /proc cannot be read (not Linux, or /proc not mounted).
std::optional<ProcessSample> ReadProcessSample();

}  // namespace herald::broker::metrics
