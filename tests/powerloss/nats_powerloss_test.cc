// The power-loss cycle of broker_powerloss_test.cc against nats-server: one
// JetStream server with its store on herald-cutfs, driven through the SDK's
// NATS backend with nats-server's default settings (a stream with file
// storage; JetStream syncs its files every 2 minutes by default, not per ack).
// A comparison, not a gate: it reports what the cuts took of what JetStream
// had acknowledged, and fails only if the harness itself cannot run.
//   --fsync none (nats-server defaults): N cuts, M publishes acknowledged, L lost, D duplicated

#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <random>
#include <string>

#include "tests/powerloss/powerloss_load.h"
#include "tests/support/cutfs_mount.h"
#include "tests/support/free_port.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"

namespace {

using namespace herald::powerloss;
using herald::test::FreePort;

// nats-server -js with its store in `store`, on `port`; its log in `log`.
pid_t StartNats(const std::string& store, uint16_t port, const std::string& log) {
  const char* binary = std::getenv("HERALD_NATS_SERVER") ? std::getenv("HERALD_NATS_SERVER") : "/usr/sbin/nats-server";
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const std::string p = std::to_string(port);
    ::execl(binary, binary, "-js", "-sd", store.c_str(), "-a", "127.0.0.1", "-p", p.c_str(), "-l", log.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

// Every message id the stream holds, read through a new group from its start.
std::map<std::string, int> ReadAll(const std::string& url, int cycle) {
  herald::Client client(herald::ClientOptions{.broker = url});
  REQUIRE_FALSE(client.WaitConnected(30s));
  herald::TopicInfo info;
  if (client.DescribeTopic(kTopic, &info)) return {};
  std::mutex mu;
  std::map<std::string, int> seen;
  uint64_t received = 0;
  herald::SubscribeOptions o{.topic = kTopic, .group = "check" + std::to_string(cycle), .window = 1000};
  REQUIRE_FALSE(client.Subscribe(o, [&](const herald::Delivery& d) {
    std::lock_guard lock(mu);
    ++seen[IdOf(d.message().payload)];
    ++received;
    d.ack();
  }));
  uint64_t last = 0;
  auto idle_since = Clock::now();
  while (Clock::now() - idle_since < 3s) {
    std::this_thread::sleep_for(100ms);
    std::lock_guard lock(mu);
    if (received >= info.message_count) break;
    if (received != last) last = received, idle_since = Clock::now();
  }
  std::lock_guard lock(mu);
  return seen;
}

}  // namespace

TEST_CASE("power loss: what JetStream with its defaults loses of what it acknowledged", "[powerloss][nats]") {
  const int cuts = std::min(CutsFromEnvironment(), 10);
  herald::test::TempDir work("herald-powerloss-nats");
  const std::string real = work.str() + "/real", graveyard = work.str() + "/graveyard", mnt = work.str() + "/mnt";
  for (const auto& d : {real, graveyard, mnt}) std::filesystem::create_directories(d);
  const uint16_t port = FreePort();
  const std::string url = "nats://127.0.0.1:" + std::to_string(port);
  std::mt19937_64 rng(std::random_device{}());
  Acknowledged acked;
  uint64_t lost = 0, duplicated = 0, streams_lost = 0;

  for (int cycle = 0; cycle <= cuts; ++cycle) {
    herald::test::CutMount mount(real, graveyard, mnt);
    pid_t nats = StartNats(mnt + "/js", port, work.str() + "/nats.log");
    {
      herald::Client admin(herald::ClientOptions{.broker = url});
      REQUIRE_FALSE(admin.WaitConnected(30s));
      // Each cycle: a cut may take the stream itself away (its definition is
      // a file like any other), and the load needs one.
      bool created = false;
      REQUIRE_FALSE(admin.CreateTopic(kTopic, &created));
      if (created && cycle > 0) ++streams_lost;
    }
    if (cycle > 0) {
      std::map<std::string, int> seen = ReadAll(url, cycle);
      std::lock_guard lock(acked.mu);
      for (auto& [offset, id] : acked.by_offset) {
        auto it = seen.find(id);
        if (it == seen.end()) ++lost;
      }
      for (auto& [id, n] : seen) duplicated += n > 1 ? n - 1 : 0;
      // Counted once: the next check looks at this cycle's acks only.
      acked.by_offset.clear();
      acked.acked_at.clear();
    }
    if (cycle < cuts) {
      Load load(url, cycle, acked);
      std::this_thread::sleep_for(std::chrono::milliseconds(300 + rng() % 400));
      ::kill(nats, SIGKILL);
      ::waitpid(nats, nullptr, 0);
      const std::string reply = mount.Command("cut drop " + std::to_string(rng()));
      INFO(reply);
      REQUIRE(reply.rfind("ok", 0) == 0);
    } else {
      ::kill(nats, SIGTERM);
      ::waitpid(nats, nullptr, 0);
    }
  }
  std::printf("nats-server defaults: %d cuts, %llu publishes acknowledged, %llu lost, %llu duplicated "
              "(the stream itself gone after %llu of the cuts)\n",
              cuts, static_cast<unsigned long long>(acked.total), static_cast<unsigned long long>(lost),
              static_cast<unsigned long long>(duplicated), static_cast<unsigned long long>(streams_lost));
  std::fflush(stdout);
  CHECK(acked.total > 0);
}
