// A data dir written by an earlier release (record batches in format 1, see
// schemas/record_batch.h) opens and serves its messages, group positions
// included, next to batches written now. The fixture and how it was made:
// tests/fixtures/README.md.

#include <algorithm>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "herald/client.h"
#include "herald/testing/in_process_broker.h"

using namespace std::chrono_literals;

namespace {

// A copy of the fixture: opening a data dir writes to it.
std::filesystem::path CopyOfFixture() {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("herald-legacy-" + std::to_string(::getpid()) + "-" +
                    std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
  std::filesystem::copy(HERALD_FIXTURES_DIR "/format1-data-dir", dir,
                        std::filesystem::copy_options::recursive);
  return dir;
}

}  // namespace

TEST_CASE("legacy data dir: format-1 batches are served by Fetch, groups resume, new batches follow",
          "[e2e][inprocess]") {
  const auto dir = CopyOfFixture();
  {
    herald::testing::InProcessBroker broker({.data_dir = dir.string()});
    herald::Client client({.broker = broker.address()});
    REQUIRE_FALSE(client.WaitConnected(5s));

    herald::FetchResult fetched;
    REQUIRE_FALSE(client.Fetch("legacy", herald::StartFrom::earliest, 100, &fetched));
    REQUIRE(fetched.messages.size() == 6);
    CHECK(fetched.end_offset == 6);
    const auto& first = fetched.messages[0];
    CHECK(first.offset == 0);
    CHECK(first.payload == "first message");
    REQUIRE(first.key);
    CHECK(*first.key == "k1");
    REQUIRE(first.header("trace"));
    CHECK(*first.header("trace") == "abc");
    REQUIRE(first.header("n"));
    CHECK(*first.header("n") == "1");
    CHECK(first.timestamp_ms > 1'700'000'000'000);
    // One Publish of three lines: one batch, one timestamp, one key.
    CHECK(fetched.messages[1].payload == "line two");
    CHECK(fetched.messages[3].payload == "line four");
    CHECK(fetched.messages[3].timestamp_ms == fetched.messages[1].timestamp_ms);
    REQUIRE(fetched.messages[2].key);
    CHECK(*fetched.messages[2].key == "k2");
    CHECK(fetched.messages[4].payload.empty());
    CHECK_FALSE(fetched.messages[4].key);
    REQUIRE(fetched.messages[5].header("empty"));
    CHECK(fetched.messages[5].header("empty")->empty());
    CHECK(fetched.messages[5].payload == "no key, one header");

    // A batch written now lands after the old ones.
    auto r = client.PublishSync("legacy", {.key = "k3", .headers = {{"h", "v"}}, .payload = "new"});
    REQUIRE_FALSE(r.error);
    CHECK(r.offset == 6);

    // Group g had acked offsets 0 and 1: it resumes at 2 and sees old and new.
    std::mutex mu;
    std::vector<std::pair<uint64_t, std::string>> got;
    REQUIRE_FALSE(client.Subscribe({.topic = "legacy", .group = "g"}, [&](const herald::Delivery& d) {
      std::lock_guard lock(mu);
      got.emplace_back(d.message().offset, std::string(d.message().payload));
      d.ack();
    }));
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
      {
        std::lock_guard lock(mu);
        if (got.size() >= 5) break;
      }
      std::this_thread::sleep_for(10ms);
    }
    std::lock_guard lock(mu);
    REQUIRE(got.size() == 5);
    // Messages of different keys may be delivered in any order.
    std::sort(got.begin(), got.end());
    CHECK(got.front() == std::pair<uint64_t, std::string>{2, "line three"});
    CHECK(got.back() == std::pair<uint64_t, std::string>{6, "new"});
  }
  std::filesystem::remove_all(dir);
}
