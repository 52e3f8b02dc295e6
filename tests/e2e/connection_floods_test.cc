// Many connections that cost the broker without authenticating: length
// prefixes that announce large frames, sockets that never send Hello, and
// more connections than the broker has file descriptors. The broker's memory
// stays small, clients with a valid token still get in, and it neither spins
// nor floods its log.

#include <memory>
#include <vector>

#include <catch2/catch.hpp>

#include "herald/client.h"
#include "schemas/token.h"
#include "tests/support/command.h"
#include "tests/support/principals_file.h"
#include "tests/support/raw_connection.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"

using namespace std::chrono_literals;
using herald::test::BrokerProcess;
using herald::test::ErrorOf;
using herald::test::Eventually;
using herald::test::RawConnection;
namespace wire = herald::wire;

namespace {

constexpr std::size_t kMiB = 1u << 20;
// Each of these connections announces a frame of 4 MiB (brokerd's default
// --max-frame-bytes) and sends only its first bytes.
constexpr int kAnnouncers = 200;
const uint8_t kPrefix4MiB[] = {0, 0, 0x40, 0};
// Far below the 800 MiB that buffers sized by the announced length cost.
constexpr std::size_t kRssBound = 64 * kMiB * herald::test::kRssGrowthFactor;

// A broker with auth on: one principal, "app", may do everything.
struct AuthBroker {
  explicit AuthBroker(std::vector<std::string> extra = {}) {
    herald::test::WriteFile(dir.str() + "/principals.toml",
                            herald::test::PrincipalEntry(
                                "app", token, "admin = [\"*\"]\npublish = [\"*\"]\nsubscribe = [\"*\"]\ngroups = [\"*\"]"));
    extra.insert(extra.begin(), {"--auth-file", dir.str() + "/principals.toml"});
    broker = std::make_unique<BrokerProcess>(extra);
  }
  herald::test::TempDir dir{"herald-floods"};
  std::string token = wire::NewToken();
  std::unique_ptr<BrokerProcess> broker;
};

bool IsError(const wire::Frame* frame, wire::ErrorCode code) {
  return frame != nullptr && frame->body_as_ErrorReply() != nullptr && frame->body_as_ErrorReply()->code() == code;
}

std::vector<std::unique_ptr<RawConnection>> Connect(uint16_t port, int count) {
  std::vector<std::unique_ptr<RawConnection>> raws;
  for (int i = 0; i < count; ++i) raws.push_back(std::make_unique<RawConnection>(port));
  return raws;
}

}  // namespace

TEST_CASE("e2e: frames announced but not sent do not grow the broker's memory", "[e2e][limits]") {
  AuthBroker b;
  const uint16_t port = b.broker->port();
  herald::Client admin({.broker = b.broker->address(), .token = b.token});
  REQUIRE_FALSE(admin.CreateTopic("t"));

  SECTION("before Hello: above the pre-Hello limit, refused at once") {
    const std::size_t before = b.broker->RssBytes();
    auto raws = Connect(port, kAnnouncers);
    for (auto& raw : raws) REQUIRE(raw->SendBytes(kPrefix4MiB, sizeof kPrefix4MiB));
    CHECK(IsError(raws.back()->ReadFrame(), wire::ErrorCode::FrameTooLarge));
    const std::size_t after = b.broker->RssBytes();
    {
      INFO("RSS before " << before / kMiB << " MiB, after " << after / kMiB << " MiB");
      CHECK(after < before + kRssBound);
    }
    for (auto& raw : raws) {
      if (!raw->ClosedByPeer()) {
        FAIL_CHECK("a connection that announced 4 MiB before Hello was left open");
        break;
      }
    }

    RawConnection just_above(port);
    const uint32_t length = wire::kMaxHelloFrameBytes + 1;
    const uint8_t prefix[] = {uint8_t(length), uint8_t(length >> 8), uint8_t(length >> 16), uint8_t(length >> 24)};
    REQUIRE(just_above.SendBytes(prefix, sizeof prefix));
    CHECK(IsError(just_above.ReadFrame(), wire::ErrorCode::FrameTooLarge));
    CHECK(just_above.ClosedByPeer());
  }
  SECTION("after Hello: the buffer follows the bytes that arrive") {
    auto raws = Connect(port, kAnnouncers);
    for (auto& raw : raws) REQUIRE(raw->Handshake(b.token));
    const std::size_t before = b.broker->RssBytes();
    const std::vector<uint8_t> start(1024, 0x5a);
    for (auto& raw : raws) {
      REQUIRE(raw->SendBytes(kPrefix4MiB, sizeof kPrefix4MiB));
      REQUIRE(raw->SendBytes(start.data(), start.size()));
    }
    // A round trip on another connection: the broker has read the prefixes by now.
    REQUIRE_FALSE(admin.PublishSync("t", {.payload = "served"}).error);
    const std::size_t after = b.broker->RssBytes();
    INFO("RSS before " << before / kMiB << " MiB, after " << after / kMiB << " MiB");
    CHECK(after < before + kRssBound);
  }
}

TEST_CASE("e2e: sockets that never send Hello cannot lock out a client with a token", "[e2e][limits]") {
  constexpr int kMaxPending = 20, kIdle = 60;
  // The idle sockets would hold their slots for a minute: longer than the client waits.
  AuthBroker b({"--max-connections", "10", "--max-pending-connections", std::to_string(kMaxPending),
                "--handshake-timeout-ms", "60000"});
  const uint16_t port = b.broker->port();
  auto idle = Connect(port, kIdle);
  // The broker accepts in connect order: the client's connection comes after the idle ones.
  herald::Client client({.broker = b.broker->address(), .request_timeout = 5s, .token = b.token});
  REQUIRE_FALSE(client.CreateTopic("t"));
  CHECK_FALSE(client.PublishSync("t", {.payload = "in despite the flood"}).error);

  // The oldest pending connections were closed to make room for newer ones...
  CHECK(IsError(idle.front()->ReadFrame(), wire::ErrorCode::TooManyConnections));
  for (int i = 0; i <= kIdle - kMaxPending; ++i) {
    if (!idle[i]->ClosedByPeer()) {
      FAIL_CHECK("pending connection " << i << " of " << kIdle << " was not closed");
      break;
    }
  }
  // ...and only as many as the limit needs: the newest are still open.
  CHECK_FALSE(idle.back()->ClosedByPeer(10ms));
}

TEST_CASE("e2e: out of file descriptors the broker backs off instead of spinning", "[e2e][limits]") {
  // brokerd may not raise this limit (soft = hard). Storage and the listener
  // take a few dozen; the rest go to the first connections below.
  constexpr uint64_t kOpenFiles = 128;
  constexpr int kConnections = 200;
  BrokerProcess broker({}, {.open_files = kOpenFiles});
  CHECK(broker.LogTail(1 << 20).find("file descriptor limit (128) is below") != std::string::npos);
  herald::Client client({.broker = broker.address()});
  REQUIRE_FALSE(client.CreateTopic("t"));

  auto raws = Connect(broker.port(), kConnections);  // the kernel's backlog takes what brokerd cannot
  for (auto& raw : raws) REQUIRE(raw->SendHello());
  REQUIRE(Eventually([&] { return broker.LogTail(1 << 20).find("accept failed") != std::string::npos; }, 10s, 10ms));

  const double cpu_before = broker.CpuSeconds();
  const std::size_t log_before = broker.LogBytes();
  std::this_thread::sleep_for(2s);  // a window in which every accept fails
  CHECK_FALSE(client.PublishSync("t", {.payload = "served while out of descriptors"}).error);
  const double cpu = broker.CpuSeconds() - cpu_before;
  const std::size_t logged = broker.LogBytes() - log_before;
  INFO("CPU " << cpu << " s, log " << logged << " bytes in the window");
  CHECK(cpu < 0.5);  // a spinning accept loop uses a whole core: about 2 s
  // A line a second, not one per failed accept (plus the Hellos of the last
  // connections accepted; a spinning loop logs megabytes).
  CHECK(logged < 64u << 10);

  raws.clear();  // descriptors come back: the connections waiting in the backlog are served
  herald::Client late({.broker = broker.address()});
  CHECK_FALSE(late.PublishSync("t", {.payload = "and after"}).error);
}
