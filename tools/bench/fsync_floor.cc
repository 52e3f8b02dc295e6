// fsync: the floor under a durable publish. Writes 4 KiB with pwrite and
// waits for fdatasync, --count times (or until --max-seconds), in a scratch
// file in --dir, which should be on the broker's data file system.
//
// The writes go over blocks that already exist: the file is first filled
// with zeros and synced, and the loop then overwrites its blocks in order
// (wrapping around). A write past the end of a file changes its size, so its
// fdatasync must also commit a journal transaction for that metadata; an
// overwrite needs only the data write and the device's cache flush. That is
// the cheapest durable write this file system offers, and what a log that
// writes ahead into zeroed blocks (brokerd's --fsync always) pays per commit.

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>
#include <string>

#include <fmt/format.h>

#include "bench.h"

namespace herald::bench {

namespace {

constexpr std::size_t kBlock = 4096;
// The loop cycles over this many blocks (16 MiB at most), so a long run does
// not need a file of its own length.
constexpr uint64_t kMaxBlocks = 4096;

// The scratch file: created empty, removed (closed first) when this goes out of scope.
class ScratchFile {
 public:
  explicit ScratchFile(const std::string& dir) {
    std::random_device rd;
    path_ = fmt::format("{}/broker-bench-fsync-{:06}.tmp", dir, rd() % 1'000'000);
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  }
  ~ScratchFile() {
    if (fd_ >= 0) {
      ::close(fd_);
      ::unlink(path_.c_str());
    }
  }
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;
  int fd() const { return fd_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

bool WriteBlock(int fd, const char* data, uint64_t block) {
  return ::pwrite(fd, data, kBlock, static_cast<off_t>(block * kBlock)) == static_cast<ssize_t>(kBlock);
}

}  // namespace

RunResult RunFsyncFloor(const BenchOptions& o) {
  RunResult r;
  r.workload = "fsync";
  r.latency_kind = kWriteSyncLatency;
  r.complete = false;
  ScratchFile file(o.dir);
  if (file.fd() < 0) return r.error = fmt::format("create {}: {}", file.path(), std::strerror(errno)), r;

  const uint64_t blocks = std::clamp<uint64_t>(o.count, 1, kMaxBlocks);
  const std::string zeros(kBlock, '\0');
  for (uint64_t b = 0; b < blocks; ++b) {
    if (!WriteBlock(file.fd(), zeros.data(), b)) {
      return r.error = fmt::format("preallocate: {}", std::strerror(errno)), r;
    }
  }
  // Commits the blocks and the file's size, so the loop's syncs have only data to write.
  if (::fsync(file.fd()) != 0) return r.error = fmt::format("preallocate fsync: {}", std::strerror(errno)), r;

  std::string data(kBlock, '\0');
  std::mt19937_64 rng(o.count);
  r.latencies_us.reserve(o.count);
  const auto give_up = Clock::now() + FromSeconds(o.max_seconds);
  const auto start = Clock::now();
  auto now = start;
  for (uint64_t i = 0; i < o.count && now < give_up; ++i) {
    // Different bytes each time: a device that skips unchanged data must not look faster.
    const uint64_t stamp = rng();
    std::memcpy(data.data(), &stamp, sizeof stamp);
    const auto before = now;
    if (!WriteBlock(file.fd(), data.data(), i % blocks) || ::fdatasync(file.fd()) != 0) {
      r.error = fmt::format("write + fdatasync: {}", std::strerror(errno));
      break;
    }
    now = Clock::now();
    r.latencies_us.push_back(std::chrono::duration<double, std::micro>(now - before).count());
  }
  r.seconds = Seconds(now - start);
  FinishTimedRun(r, o.count, "syncs");
  return r;
}

}  // namespace herald::bench
