// A storage fault is never believed: brokerd --fsync always on herald-cutfs,
// with an fsync or a write of its journal made to fail (EIO), or the disk full
// (ENOSPC). After each, a power cut must find every acknowledged message, and
// nothing acknowledged may rest on bytes the failed call was meant to make
// durable.
//
// EIO on fsync or write: the kernel may already have dropped the pages, and a
// later fsync would succeed without them ("fsyncgate"), so the broker refuses
// every publish until a restart replays what is really on disk, and says so:
// /healthz 503, herald_storage_failed 1, an error in its log. ENOSPC resumes
// by itself once there is room, as before.

#include <catch2/catch.hpp>
#include <httplib.h>

#include <filesystem>
#include <map>
#include <string>

#include "herald/client.h"
#include "tests/support/cutfs_mount.h"
#include "tests/support/free_port.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"

namespace {

using namespace std::chrono_literals;
using herald::test::CutMount;
using herald::test::Eventually;
using herald::test::FreePort;
using herald::test::ServerProcess;

constexpr const char* kTopic = "faults";
// The segment files (20-digit names in journal/): the fault must hit the
// fsync/write that acks depend on, not the spare file made beside them
// (herald-wal-spare.making), whose zeros no ack rests on.
constexpr const char* kJournalFiles = "/journal/0";

struct Rig {
  herald::test::TempDir work{"herald-faults"};
  std::string real = work.str() + "/real", graveyard = work.str() + "/graveyard", mnt = work.str() + "/mnt";
  uint16_t metrics_port = FreePort();
  std::unique_ptr<CutMount> mount;
  std::unique_ptr<ServerProcess> broker;
  std::map<uint64_t, std::string> acked;  // offset -> payload

  Rig() {
    for (const auto& d : {real, graveyard, mnt}) std::filesystem::create_directories(d);
    mount = std::make_unique<CutMount>(real, graveyard, mnt);
    broker = std::make_unique<ServerProcess>(
        HERALD_BROKERD_PATH,
        std::vector<std::string>{"--data-dir", mnt + "/data", "--fsync", "always", "--disk-reserve-bytes", "0",
                                 "--metrics-listen", "127.0.0.1:" + std::to_string(metrics_port)});
    auto c = Connect();
    REQUIRE_FALSE(c->CreateTopic(kTopic));
  }

  std::unique_ptr<herald::Client> Connect() {
    auto c = std::make_unique<herald::Client>(
        herald::ClientOptions{.broker = broker->address(), .request_timeout = 5s, .idempotent = false});
    REQUIRE_FALSE(c->WaitConnected(10s));
    return c;
  }

  // Publishes `payload`; records it if acknowledged. Returns the error.
  std::error_code Publish(herald::Client& c, const std::string& payload) {
    herald::PublishResult r = c.PublishSync(kTopic, herald::Message{.payload = payload});
    if (!r.error) acked[r.offset] = payload;
    return r.error;
  }

  int Health() {
    httplib::Client http("127.0.0.1", metrics_port);
    http.set_read_timeout(5);
    auto r = http.Get("/healthz");
    return r ? r->status : -1;
  }

  std::string Metrics() {
    httplib::Client http("127.0.0.1", metrics_port);
    http.set_read_timeout(5);
    auto r = http.Get("/metrics");
    return r ? r->body : "";
  }

  // SIGKILL, power cut (everything unsynced taken back), new mount, restart.
  void CutAndRestart() {
    broker->Kill();
    const std::string reply = mount->Command("cut drop 1");
    INFO(reply);
    REQUIRE(reply.rfind("ok", 0) == 0);
    mount.reset();
    mount = std::make_unique<CutMount>(real, graveyard, mnt);
    broker->Restart();
  }

  // Every acknowledged message is at its offset.
  void CheckAcked() {
    auto c = Connect();
    for (const auto& [offset, payload] : acked) {
      herald::FetchResult page;
      REQUIRE_FALSE(c->Fetch(kTopic, herald::StartPosition::AtOffset(offset), 1, &page));
      INFO("acknowledged offset " << offset << " (" << payload << ")");
      REQUIRE(page.messages.size() == 1);
      CHECK(page.messages[0].offset == offset);
      CHECK(page.messages[0].payload == payload);
    }
  }
};

// The storage must stay refused: a few publishes over a second all fail.
void ExpectPublishesRefused(Rig& rig, herald::Client& c) {
  for (int i = 0; i < 5; ++i) {
    CHECK(rig.Publish(c, "after-fault-" + std::to_string(i)));
    std::this_thread::sleep_for(250ms);
  }
}

void FaultIsFatalUntilRestart(const std::string& fault) {
  Rig rig;
  auto c = rig.Connect();
  for (int i = 0; i < 5; ++i) REQUIRE_FALSE(rig.Publish(*c, "before-" + std::to_string(i)));
  CHECK(rig.Health() == 200);

  REQUIRE(rig.mount->Command(fault + " " + kJournalFiles) == "ok");
  CHECK(rig.Publish(*c, "hit-by-the-fault"));
  // The disk works again (a failed write's fault is cleared; a failed sync's
  // fired once): the broker must not believe it.
  if (fault == "fail-write") REQUIRE(rig.mount->Command("fail-write off") == "ok");
  ExpectPublishesRefused(rig, *c);
  CHECK(rig.Health() == 503);
  CHECK(rig.Metrics().find("\nherald_storage_failed 1") != std::string::npos);
  CHECK(rig.broker->LogTail().find("refusing publishes until a restart") != std::string::npos);

  // A restart replays what is on disk and publishing works again; a cut
  // after it keeps everything acknowledged, before and after the fault.
  rig.CutAndRestart();
  c = rig.Connect();
  CHECK(rig.Health() == 200);
  for (int i = 0; i < 5; ++i) REQUIRE_FALSE(rig.Publish(*c, "after-restart-" + std::to_string(i)));
  rig.CutAndRestart();
  rig.CheckAcked();
}

}  // namespace

TEST_CASE("storage faults: a failed fsync refuses publishes until a restart, and no ack rests on it",
          "[powerloss][faults]") {
  FaultIsFatalUntilRestart("fail-sync");
}

TEST_CASE("storage faults: a failed write refuses publishes until a restart, and no ack rests on it",
          "[powerloss][faults]") {
  FaultIsFatalUntilRestart("fail-write");
}

TEST_CASE("storage faults: a full disk refuses publishes until there is room, and loses no ack",
          "[powerloss][faults]") {
  Rig rig;
  auto c = rig.Connect();
  for (int i = 0; i < 5; ++i) REQUIRE_FALSE(rig.Publish(*c, "before-" + std::to_string(i)));
  REQUIRE(rig.mount->Command("enospc on") == "ok");
  CHECK(rig.Publish(*c, "disk-full"));
  CHECK(Eventually([&] { return rig.Health() == 503; }, 5s));
  REQUIRE(rig.mount->Command("enospc off") == "ok");
  // It resumes by itself.
  CHECK(Eventually([&] { return !rig.Publish(*c, "room-again"); }, 10s, 100ms));
  CHECK(Eventually([&] { return rig.Health() == 200; }, 5s));
  for (int i = 0; i < 5; ++i) REQUIRE_FALSE(rig.Publish(*c, "after-" + std::to_string(i)));
  rig.CutAndRestart();
  rig.CheckAcked();
}
