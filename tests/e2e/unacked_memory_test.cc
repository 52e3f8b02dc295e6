// What subscribers that never ack can make the broker hold: the window is
// clamped, unacked payload bytes are bounded per group and across groups, and
// a nack's reason is cut and stored once, not once per offset.

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "herald/client.h"
#include "tests/support/raw_connection.h"
#include "tests/support/request_frames.h"
#include "tests/support/server_process.h"

using namespace std::chrono_literals;
using herald::test::BrokerProcess;
using herald::test::Eventually;
using herald::test::kRssGrowthFactor;
using herald::test::RawConnection;
namespace wire = herald::wire;

namespace {

constexpr double kMiBf = 1024.0 * 1024.0;

constexpr std::size_t kMiB = 1u << 20;

// Publishes `count` messages of `bytes` each, and waits for every ack.
void PublishMany(herald::Client& c, const std::string& topic, int count, std::size_t bytes) {
  for (int i = 0; i < count; ++i) {
    herald::PublishResult r = c.PublishSync(topic, {.payload = std::string(bytes, static_cast<char>('a' + i % 26))});
    REQUIRE_FALSE(r.error);
  }
}

uint32_t InFlight(herald::Client& c, const std::string& topic, const std::string& group) {
  herald::GroupInfo info;
  REQUIRE_FALSE(c.DescribeGroup(topic, group, &info));
  return info.in_flight;
}

// Subscribes a raw member and returns its subscription id.
uint32_t RawSubscribe(RawConnection& raw, const std::string& topic, const std::string& group,
                      uint32_t window, uint32_t max_deliveries = 0) {
  flatbuffers::FlatBufferBuilder fbb;
  auto t = fbb.CreateString(topic);
  auto g = fbb.CreateString(group);
  REQUIRE(raw.Send(wire::FinishFrame(
      fbb, 1, wire::CreateSubscribe(fbb, t, g, wire::StartFrom::Earliest, window, 0, 0, 0, max_deliveries))));
  const wire::Frame* ok = raw.ReadFrame();
  REQUIRE(ok != nullptr);
  REQUIRE(ok->body_as_SubscribeOk() != nullptr);
  return ok->body_as_SubscribeOk()->subscription_id();
}

// Reads Deliver frames until `count` offsets came (bounded by `timeout`).
std::vector<uint64_t> ReadDeliveries(RawConnection& raw, std::size_t count, std::chrono::seconds timeout) {
  std::vector<uint64_t> offsets;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (offsets.size() < count && std::chrono::steady_clock::now() < deadline) {
    const wire::Frame* frame = raw.ReadFrame(1s);
    if (frame == nullptr || frame->body_as_Deliver() == nullptr) continue;
    for (uint64_t offset : herald::test::DeliveredOffsets(*frame->body_as_Deliver())) offsets.push_back(offset);
  }
  return offsets;
}

}  // namespace

TEST_CASE("e2e: a member's window is clamped to --max-window", "[e2e][limits][memory]") {
  BrokerProcess broker({"--max-window", "5"});
  herald::Client c({.broker = broker.address()});
  REQUIRE_FALSE(c.CreateTopic("t"));
  PublishMany(c, "t", 20, 10);
  std::atomic<int> received{0};
  herald::Client member({.broker = broker.address()});
  REQUIRE_FALSE(member.Subscribe({.topic = "t", .group = "g", .window = 1'000'000},
                                 [&](const herald::Delivery&) { ++received; }));  // never acks
  REQUIRE(Eventually([&] { return received >= 5; }, 10s));
  // Whatever the member asked for, the group hands out 5 and waits.
  std::this_thread::sleep_for(300ms);
  CHECK(received == 5);
  CHECK(InFlight(c, "t", "g") == 5);
}

TEST_CASE("e2e: unacked payload bytes are bounded per group and across groups",
          "[e2e][limits][memory]") {
  // 256 KiB messages: a group may hold 1 MiB (4 messages) unacked, all groups 2 MiB.
  BrokerProcess broker({"--max-group-unacked-bytes", "1MiB", "--max-unacked-bytes", "2MiB"});
  herald::Client c({.broker = broker.address()});
  REQUIRE_FALSE(c.CreateTopic("t"));
  PublishMany(c, "t", 24, 256 << 10);

  herald::Client member({.broker = broker.address()});
  std::mutex mu;
  std::vector<herald::Delivery> held;  // settled later, to show the budget comes back
  std::atomic<int> received{0};
  auto hold = [&](const herald::Delivery& d) {
    std::lock_guard lock(mu);
    held.push_back(d);
    ++received;
  };
  for (const char* group : {"g1", "g2", "g3", "g4"}) {
    REQUIRE_FALSE(member.Subscribe({.topic = "t", .group = group}, hold));
  }
  // Two groups fill the broker-wide 2 MiB (4 messages each); the other two
  // get the one message a group always may have.
  REQUIRE(Eventually([&] { return received >= 10; }, 15s));
  std::this_thread::sleep_for(300ms);
  uint32_t total = 0;
  for (const char* group : {"g1", "g2", "g3", "g4"}) {
    const uint32_t n = InFlight(c, "t", group);
    INFO(group);
    CHECK(n >= 1);
    CHECK(n <= 4);  // 1 MiB of 256 KiB messages
    total += n;
  }
  CHECK(total <= 2 * 4 + 2);
  CHECK(received == static_cast<int>(total));

  // Acks give the bytes back, and every group reads on to the end.
  std::atomic<bool> stop{false};
  std::thread acker([&] {
    while (!stop) {
      std::vector<herald::Delivery> batch;
      {
        std::lock_guard lock(mu);
        batch.swap(held);
      }
      for (const auto& d : batch) d.ack();
      std::this_thread::sleep_for(5ms);
    }
  });
  CHECK(Eventually([&] { return received >= 4 * 24; }, 30s));
  stop = true;
  acker.join();
  CHECK(received == 4 * 24);
}

TEST_CASE("e2e: groups that never ack large messages do not grow the broker",
          "[e2e][limits][memory]") {
  BrokerProcess broker;
  herald::Client c({.broker = broker.address()});
  REQUIRE_FALSE(c.CreateTopic("t"));
  // HERALD_UNACKED_MESSAGES (default 40) messages of 1 MiB; 4 groups read them all and ack none.
  const char* env = std::getenv("HERALD_UNACKED_MESSAGES");
  const int count = env != nullptr ? std::max(1, std::atoi(env)) : 40;
  PublishMany(c, "t", count, kMiB);
  const std::size_t before = broker.RssBytes();

  herald::Client member({.broker = broker.address()});
  std::atomic<int> received{0};
  for (const char* group : {"g1", "g2", "g3", "g4"}) {
    REQUIRE_FALSE(member.Subscribe({.topic = "t", .group = group},
                                   [&](const herald::Delivery&) { ++received; }));
  }
  REQUIRE(Eventually([&] { return received >= 4; }, 15s));
  // Every group hands out what it may: wait until deliveries stop for a second.
  int seen = -1;
  for (int i = 0; i < 60 && seen != received; ++i) {
    seen = received;
    std::this_thread::sleep_for(1s);
  }
  const std::size_t after = broker.RssBytes();
  std::printf("unacked: 4 groups x %d unacked 1 MiB messages: %d delivered, broker RSS %.1f -> %.1f MiB\n",
              count, received.load(), static_cast<double>(before) / kMiBf, static_cast<double>(after) / kMiBf);
  // 8 MiB unacked per group by default, and 2 MiB read ahead.
  CHECK(received <= 4 * 9);
  CHECK(after < before + kRssGrowthFactor * 64 * kMiB);
}

TEST_CASE("e2e: a nack's reason is cut to 1 KiB and kept once for all its offsets",
          "[e2e][limits][memory]") {
  BrokerProcess broker;
  herald::Client c({.broker = broker.address()});
  REQUIRE_FALSE(c.CreateTopic("t"));
  PublishMany(c, "t", 200, 10);

  RawConnection raw(broker.port());
  REQUIRE(raw.Handshake());
  const uint32_t sub = RawSubscribe(raw, "t", "g", 1000, /*max_deliveries=*/1);
  std::vector<uint64_t> offsets = ReadDeliveries(raw, 200, 15s);
  REQUIRE(offsets.size() == 200);
  const std::size_t before = broker.RssBytes();

  // One Nack of every offset with a reason of almost 4 MiB (the frame limit).
  {
    std::string reason(4 * kMiB - 8 * 1024, 'r');
    reason.replace(1023, 2, "\xc3\xa9");  // a two-byte character across the 1 KiB mark
    flatbuffers::FlatBufferBuilder fbb(reason.size() + 4096);
    auto why = fbb.CreateString(reason);
    auto vec = fbb.CreateVector(offsets);
    REQUIRE(raw.Send(wire::FinishFrame(fbb, 7, wire::CreateNack(fbb, sub, vec, 0, why))));
    const wire::Frame* reply = raw.ReadFrame(30s);
    REQUIRE(reply != nullptr);
    CHECK(reply->body_type() == wire::Body::Ok);
  }
  const std::size_t after = broker.RssBytes();
  std::printf("nack reason: 200 offsets x %.1f MiB reason: broker RSS %.1f -> %.1f MiB\n", 4.0 - 8.0 / 1024,
              static_cast<double>(before) / kMiBf, static_cast<double>(after) / kMiBf);
  CHECK(after < before + kRssGrowthFactor * 32 * kMiB);
  // max_deliveries 1: every nacked message goes to t.dlq with the reason.
  herald::TopicInfo dlq;
  REQUIRE(Eventually([&] { return !c.DescribeTopic("t.dlq", &dlq) && dlq.next_offset == 200; }, 20s));

  herald::FetchResult letters;
  REQUIRE_FALSE(c.Fetch("t.dlq", herald::StartFrom::earliest, 1, &letters));
  REQUIRE(letters.messages.size() == 1);
  std::string stored;
  for (const auto& h : letters.messages[0].headers)
    if (h.name == "x-herald-dlq-reason") stored = h.value;
  CHECK(stored == std::string(1023, 'r'));  // cut before the character that would not fit
}
