// A full disk: brokerd's data dir on a small tmpfs. Publishes fail with
// storage_error (nothing half-stored), admin and deliveries of what is stored
// go on, and publishing resumes by itself once the filesystem grows.
//
// Needs root (mount); without it the test says so and checks nothing.

#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>

#include <catch2/catch.hpp>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "herald/client.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"

using namespace std::chrono_literals;
using herald::test::Eventually;
using herald::test::ServerProcess;
using herald::test::TempDir;

namespace {

// A tmpfs of `size` at `path` for the scope's lifetime.
class SmallFilesystem {
 public:
  SmallFilesystem(std::string path, const std::string& size) : path_(std::move(path)) {
    std::filesystem::create_directories(path_);
    mounted_ = ::geteuid() == 0 &&
               std::system(("mount -t tmpfs -o size=" + size + " tmpfs " + path_ + " 2>/dev/null").c_str()) == 0;
  }
  ~SmallFilesystem() {
    if (mounted_) (void)std::system(("umount -l " + path_).c_str());
  }
  bool mounted() const { return mounted_; }
  bool Grow(const std::string& size) {
    return std::system(("mount -o remount,size=" + size + " " + path_).c_str()) == 0;
  }

 private:
  std::string path_;
  bool mounted_ = false;
};

}  // namespace

TEST_CASE("e2e: a full disk fails publishes, keeps reads going, and publishing resumes with space",
          "[e2e][faults]") {
  TempDir dir("disk-full");
  SmallFilesystem fs(dir / "fs", "32m");
  if (!fs.mounted()) {
    WARN("not root or no tmpfs: the disk-full test cannot mount its small filesystem; nothing checked");
    return;
  }
  ServerProcess broker(HERALD_BROKERD_PATH, {"--data-dir", dir / "fs" + "/data", "--log-level", "info"});
  herald::Client c({.broker = broker.address(), .request_timeout = 10s});
  REQUIRE_FALSE(c.WaitConnected(10s));
  REQUIRE_FALSE(c.CreateTopic("t"));

  std::mutex mu;
  std::map<std::string, int> delivered;  // payload prefix -> times
  REQUIRE_FALSE(c.Subscribe({.topic = "t", .group = "g"}, [&](const herald::Delivery& d) {
    std::lock_guard lock(mu);
    ++delivered[d.message().payload.substr(0, 16)];
    d.ack();
  }));

  // Fill the disk: 64 KiB messages until the broker refuses one.
  std::vector<std::string> acked;
  herald::PublishResult refused;
  for (int i = 0; i < 2000; ++i) {  // at most 128 MiB, far above the 32 MiB filesystem
    char id[17];
    std::snprintf(id, sizeof id, "msg-%012d", i);
    herald::PublishResult r = c.PublishSync("t", {.payload = std::string(id) + std::string(64 << 10, 'x')});
    if (r.error) {
      refused = r;
      break;
    }
    acked.emplace_back(id);
  }
  INFO(broker.LogTail());
  REQUIRE(refused.error == herald::errc::storage_error);
  REQUIRE(acked.size() > 10);

  // Still serving: admin answers, the group gets everything that was stored.
  herald::TopicInfo info;
  REQUIRE_FALSE(c.DescribeTopic("t", &info));
  CHECK(info.next_offset == acked.size());
  REQUIRE(Eventually([&] {
    std::lock_guard lock(mu);
    return delivered.size() == acked.size();
  }, 20s));
  CHECK(c.PublishSync("t", {.payload = "while full"}).error == herald::errc::storage_error);

  // Space comes back: publishing resumes without a restart.
  REQUIRE(fs.Grow("512m"));
  REQUIRE(Eventually([&] { return !c.PublishSync("t", {.payload = "msg-back-0000000"}).error; }, 20s, 100ms));
  for (int i = 1; i <= 10; ++i) {
    char id[17];
    std::snprintf(id, sizeof id, "msg-back-%07d", i);
    REQUIRE_FALSE(c.PublishSync("t", {.payload = id}).error);
  }
  REQUIRE_FALSE(c.DescribeTopic("t", &info));
  // Nothing refused was stored: the log is the acked messages plus the ones after, densely.
  CHECK(info.next_offset == acked.size() + 11);
  REQUIRE(Eventually([&] {
    std::lock_guard lock(mu);
    return delivered.size() == acked.size() + 11;
  }, 20s));
  std::lock_guard lock(mu);
  for (const auto& id : acked) {
    INFO(id);
    CHECK(delivered.count(id) == 1);
  }
}

namespace {

// Writes zeros to `path` until the filesystem has no byte left; true if it filled up.
bool FillUp(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return false;
  const std::string zeros(64 << 10, '\0');
  bool full = false;
  // Large writes until one does not fit, then smaller ones down to a byte.
  for (std::size_t chunk = zeros.size(); chunk > 0 && !full; chunk /= 16) {
    for (int i = 0; i < 100'000; ++i) {  // 6 GiB at most, far above any test filesystem
      ssize_t n = ::write(fd, zeros.data(), chunk);
      if (n < static_cast<ssize_t>(chunk)) {
        full = chunk == 1 && n < 0 && errno == ENOSPC;
        break;
      }
    }
  }
  ::close(fd);
  return full;
}

}  // namespace

TEST_CASE("e2e: a broker killed on a full disk starts again, serves reads, and refuses publishes "
          "until space comes back", "[e2e][faults]") {
  TempDir dir("disk-full-restart");
  SmallFilesystem fs(dir / "fs", "32m");
  if (!fs.mounted()) {
    WARN("not root or no tmpfs: the disk-full test cannot mount its small filesystem; nothing checked");
    return;
  }
  const std::string data = dir / "fs" + "/data";
  ServerProcess broker(HERALD_BROKERD_PATH, {"--data-dir", data, "--log-level", "info"});
  std::vector<std::string> acked;
  {
    herald::Client c({.broker = broker.address(), .request_timeout = 10s});
    REQUIRE_FALSE(c.WaitConnected(10s));
    REQUIRE_FALSE(c.CreateTopic("t"));
    for (int i = 0; i < 2000; ++i) {  // at most 128 MiB, far above the 32 MiB filesystem
      char id[17];
      std::snprintf(id, sizeof id, "msg-%012d", i);
      if (c.PublishSync("t", {.payload = std::string(id) + std::string(64 << 10, 'x')}).error) break;
      acked.emplace_back(id);
    }
  }
  REQUIRE(acked.size() > 10);
  broker.Kill();
  // Whatever the broker left free, something else takes: not one byte remains.
  REQUIRE(FillUp(dir / "fs" + "/filler"));

  broker.Restart();  // REQUIREs that it starts and listens
  INFO(broker.LogTail());
  herald::Client c({.broker = broker.address(), .request_timeout = 10s});
  REQUIRE_FALSE(c.WaitConnected(10s));
  // Reads: every acknowledged message is there, in order.
  std::vector<std::string> read;
  uint64_t next = 0;
  for (int pages = 0; pages < 100 && read.size() < acked.size(); ++pages) {
    herald::FetchResult page;
    REQUIRE_FALSE(c.Fetch("t", herald::StartPosition::AtOffset(next), 50, &page));
    if (page.messages.empty()) break;
    for (const auto& m : page.messages) read.push_back(m.payload.substr(0, 16));
    next = page.next_offset;
  }
  CHECK(read == acked);
  // Writes: refused as a running broker refuses them, with nothing stored.
  CHECK(c.PublishSync("t", {.payload = "while full"}).error == herald::errc::storage_error);
  // Space comes back: publishing resumes without a restart, and the reserve is laid down again.
  std::filesystem::remove(dir / "fs" + "/filler");
  REQUIRE(fs.Grow("512m"));
  REQUIRE(Eventually([&] { return !c.PublishSync("t", {.payload = "msg-back-0000000"}).error; }, 20s, 100ms));
  herald::TopicInfo info;
  REQUIRE_FALSE(c.DescribeTopic("t", &info));
  CHECK(info.next_offset == acked.size() + 1);
  CHECK(std::filesystem::exists(data + "/space.reserve"));
}
