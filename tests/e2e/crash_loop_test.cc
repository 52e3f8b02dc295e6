// Crash safety under load: brokerd is killed with SIGKILL again and again
// while several producers publish and two groups consume. Afterwards every
// acknowledged publish is in the log exactly once, the offsets are dense, and
// both groups resume and ack everything (redeliveries allowed, losses not).
//
// HERALD_CRASH_CYCLES sets the number of kill/restart cycles (default 20).

#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <catch2/catch.hpp>

#include "herald/client.h"
#include "tests/support/server_process.h"

using namespace std::chrono_literals;
using herald::test::BrokerProcess;
using herald::test::Eventually;

namespace {

int Cycles() {
  const char* env = std::getenv("HERALD_CRASH_CYCLES");
  int n = env ? std::atoi(env) : 20;
  return n > 0 ? n : 20;
}

// What one group has seen: offset -> payload (a redelivery must carry the same payload).
struct GroupLog {
  std::mutex mu;
  std::map<uint64_t, std::string> seen;
  uint64_t mismatches = 0;
};

}  // namespace

TEST_CASE("e2e: SIGKILL loop under load keeps every ack, once, with dense offsets", "[e2e][durability]") {
  const int cycles = Cycles();
  constexpr int kProducers = 3;
  constexpr int kPerProducer = 200'000;  // a bound; producers stop when the cycles are done
  BrokerProcess broker;  // --fsync always
  {
    herald::Client admin({.broker = broker.address()});
    REQUIRE_FALSE(admin.WaitConnected(10s));
    REQUIRE_FALSE(admin.CreateTopic("orders"));
  }

  // Two groups, consuming all along.
  std::map<std::string, GroupLog> groups;
  std::vector<std::unique_ptr<herald::Client>> consumers;
  for (std::string name : {"billing", "shipping"}) {
    GroupLog& log = groups[name];
    consumers.push_back(std::make_unique<herald::Client>(
        herald::ClientOptions{.broker = broker.address(), .reconnect_backoff_max = 200ms}));
    REQUIRE_FALSE(consumers.back()->Subscribe({.topic = "orders", .group = name},
                                              [&log](const herald::Delivery& d) {
      std::lock_guard lock(log.mu);
      auto [it, fresh] = log.seen.emplace(d.message().offset, d.message().payload);
      if (!fresh && it->second != d.message().payload) ++log.mismatches;
      d.ack();
    }));
  }

  // Several idempotent producers; every ack is recorded with its offset.
  std::mutex mu;
  std::map<std::string, uint64_t> acked;
  std::atomic<uint64_t> failed{0};
  std::atomic<bool> stop{false};
  std::vector<std::unique_ptr<herald::Client>> producers;
  producers.reserve(kProducers);  // threads index it while it grows (TSan: a race on realloc)
  std::vector<std::thread> publishing;
  for (int p = 0; p < kProducers; ++p) {
    producers.push_back(std::make_unique<herald::Client>(herald::ClientOptions{
        .broker = broker.address(), .reconnect_backoff_max = 200ms, .request_timeout = 120s}));
    publishing.emplace_back([&, p] {
      herald::Client& c = *producers[p];
      for (int i = 0; i < kPerProducer && !stop; ++i) {
        std::string payload = "p" + std::to_string(p) + "-" + std::to_string(i);
        c.Publish("orders", {.payload = payload}, [&, payload](const herald::PublishResult& r) {
          std::lock_guard lock(mu);
          if (r.error) {
            ++failed;
          } else {
            acked[payload] = r.offset;
          }
        });
        if (i % 10 == 0) std::this_thread::sleep_for(1ms);  // about 5-8k msg/s each, through every cycle
      }
    });
  }

  for (int cycle = 0; cycle < cycles; ++cycle) {
    std::this_thread::sleep_for(100ms + 10ms * (cycle % 7));  // kill at varying points
    broker.Kill();
    broker.Restart();
  }
  stop = true;
  for (auto& t : publishing) t.join();
  for (auto& p : producers) REQUIRE_FALSE(p->Flush(120s));
  CHECK(failed == 0);  // every publish was retried through every restart until acked

  herald::Client reader({.broker = broker.address()});
  REQUIRE_FALSE(reader.WaitConnected(10s));
  herald::TopicInfo info;
  REQUIRE_FALSE(reader.DescribeTopic("orders", &info));
  INFO("cycles " << cycles << ", log " << info.next_offset << " messages, acked " << acked.size()
                 << "\nbroker log:\n" << broker.LogTail());

  // The whole log, read without a group: dense offsets, each payload once.
  std::map<uint64_t, std::string> log;
  for (uint64_t from = 0; from < info.next_offset;) {
    herald::FetchResult page;
    REQUIRE_FALSE(reader.Fetch("orders", herald::StartPosition::AtOffset(from), 10'000, &page));
    REQUIRE_FALSE(page.messages.empty());
    for (auto& m : page.messages) log.emplace(m.offset, m.payload);
    from = page.next_offset;
  }
  REQUIRE(log.size() == info.next_offset);
  CHECK(log.begin()->first == 0);
  CHECK(log.rbegin()->first == info.next_offset - 1);
  std::map<std::string, uint64_t> offset_of;
  for (auto& [offset, payload] : log) {
    INFO(payload);
    CHECK(offset_of.emplace(payload, offset).second);  // stored once
  }
  {
    std::lock_guard lock(mu);
    CHECK(acked.size() > 3000);
    for (auto& [payload, offset] : acked) {
      INFO(payload);
      REQUIRE(offset_of.count(payload) == 1);
      // A retried publish may be acked as a duplicate without its offset (~0).
      if (offset != herald::PublishResult::kUnknownOffset) CHECK(offset_of[payload] == offset);
    }
  }

  std::printf("crash loop: %d SIGKILL cycles, %d producers, 2 groups, %zu messages stored, %zu acks\n", cycles,
              kProducers, log.size(), acked.size());

  // Both groups resume and eventually ack everything; what they saw matches the log.
  for (auto& entry : groups) {
    // Named, not a structured binding: clang 14 cannot capture one in the lambda below.
    const auto& name = entry.first;
    auto& group = entry.second;
    INFO("group " << name);
    REQUIRE(Eventually([&] {
      herald::GroupInfo g;
      return !reader.DescribeGroup("orders", name, &g) && g.lag == 0 && g.ack_floor == info.next_offset;
    }, 60s, 50ms));
    std::lock_guard lock(group.mu);
    CHECK(group.mismatches == 0);
    CHECK(group.seen.size() == info.next_offset);
    for (auto& [offset, payload] : group.seen) CHECK(log[offset] == payload);
  }
}
