#pragma once
// ServerProcess: a real server binary (brokerd, or one of the services) as a
// child process, for end-to-end tests. It listens on 127.0.0.1 with a port
// picked by the kernel (reported through --port-file), keeps its data in a
// temp dir of its own, and logs to a file whose tail is shown on failure.
// Restart() brings it back on the same port and data.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include <sys/types.h>

#include "tests/support/temp_dir.h"

namespace herald::test {

// Resource limits a server process starts with; 0 = inherited from the test.
struct ProcessLimits {
  uint64_t open_files = 0;  // RLIMIT_NOFILE, soft and hard (so it cannot raise it)
};

class ServerProcess {
 public:
  // Starts `binary` with `args` (each "{dir}" in them becomes this process's
  // temp dir) plus --listen and --port-file, and waits (bounded) until it
  // listens. REQUIREs success.
  ServerProcess(std::string binary, std::vector<std::string> args, ProcessLimits limits = {});
  ~ServerProcess();  // SIGKILL if still running
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  uint16_t port() const { return port_; }
  std::string dir() const { return dir_.str(); }

  // SIGTERM and wait for the exit; returns the exit status (-1: did not exit in time).
  int Stop(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // SIGKILL: no shutdown code runs (a crash).
  void Kill();
  // Starts again on the same data dir and the same port.
  void Restart();
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  // Resident set size of the process now (VmRSS), in bytes; 0 if unknown.
  std::size_t RssBytes() const;
  // CPU time the process has used so far (user + system), in seconds; -1 if unknown.
  double CpuSeconds() const;
  // Bytes the process has written to its log (stdout and stderr) so far.
  std::size_t LogBytes() const;
  std::string LogTail(std::size_t bytes = 4000) const;

 private:
  void Start(const std::string& listen);

  TempDir dir_;
  std::string binary_;
  std::string port_file_;
  std::string log_file_;
  std::vector<std::string> args_;
  ProcessLimits limits_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

// The broker: brokerd with its data in the temp dir.
class BrokerProcess : public ServerProcess {
 public:
  explicit BrokerProcess(std::vector<std::string> extra_args = {}, ProcessLimits limits = {});
};

// How many times more resident memory the same work takes in this build, for
// tests that bound a server's RSS growth. Under a sanitizer the process also
// touches shadow memory (TSan: 4 bytes per byte of application memory, ASan:
// redzones and a quarantine of freed blocks), so a bound written for a plain
// build is scaled here, not dropped: a broker that buffered what a slow
// subscriber was promised grows by hundreds of MiB in any build. Measured for
// the slow-subscriber test: plain +4..19 MiB, TSan +44..90 MiB (a CI run failed
// on the unscaled 48 MiB bound).
#if defined(__SANITIZE_THREAD__)
inline constexpr bool kThreadSanitizer = true, kAddressSanitizer = false;
#elif defined(__SANITIZE_ADDRESS__)
inline constexpr bool kThreadSanitizer = false, kAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
inline constexpr bool kThreadSanitizer = true, kAddressSanitizer = false;
#elif __has_feature(address_sanitizer)
inline constexpr bool kThreadSanitizer = false, kAddressSanitizer = true;
#else
inline constexpr bool kThreadSanitizer = false, kAddressSanitizer = false;
#endif
#else
inline constexpr bool kThreadSanitizer = false, kAddressSanitizer = false;
#endif
inline constexpr std::size_t kRssGrowthFactor = kThreadSanitizer ? 4 : kAddressSanitizer ? 2 : 1;

// Polls `pred` every `step` until it holds or `timeout` passes (NATS' checkFor).
template <class Pred>
bool Eventually(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(15),
                std::chrono::milliseconds step = std::chrono::milliseconds(5)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(step);
  }
  return pred();
}

}  // namespace herald::test
