// Consumer groups against a real brokerd: fan-out, sharing while members come
// and go, per-key order, redelivery.

#include <map>
#include <mutex>
#include <set>

#include <catch2/catch.hpp>

#include "herald/client.h"
#include "tests/support/client.h"
#include "tests/support/server_process.h"

using namespace std::chrono_literals;
using herald::test::BrokerProcess;
using herald::test::Connect;
using herald::test::Eventually;

namespace {

void PublishAll(herald::Client& c, const std::string& topic, int n, const std::string& key_prefix = "",
                int keys = 0) {
  std::vector<std::future<herald::PublishResult>> acks;
  for (int i = 0; i < n; ++i) {
    herald::Message m;
    if (keys > 0) m.key = key_prefix + std::to_string(i % keys);
    m.payload = std::to_string(i);
    acks.push_back(c.Publish(topic, std::move(m)));
  }
  for (auto& f : acks) REQUIRE_FALSE(f.get().error);
}

}  // namespace

TEST_CASE("e2e: every group gets every message (fan-out)", "[e2e][groups]") {
  BrokerProcess broker;
  auto client = Connect(broker);
  REQUIRE_FALSE(client->CreateTopic("comment-created"));
  PublishAll(*client, "comment-created", 500);

  std::mutex mu;
  std::map<std::string, std::multiset<uint64_t>> seen;
  std::vector<std::unique_ptr<herald::Client>> consumers;
  for (std::string group : {"post-service", "notification-service"}) {
    consumers.push_back(Connect(broker));
    REQUIRE_FALSE(consumers.back()->Subscribe(
        {.topic = "comment-created", .group = group}, [&, group](const herald::Delivery& d) {
          std::lock_guard lock(mu);
          seen[group].insert(d.message().offset);
          d.ack();
        }));
  }
  INFO(broker.LogTail());
  REQUIRE(Eventually([&] {
    std::lock_guard lock(mu);
    return seen["post-service"].size() >= 500 && seen["notification-service"].size() >= 500;
  }));
  std::lock_guard lock(mu);
  for (auto& [group, offsets] : seen) {
    CHECK(offsets.size() == 500);  // no duplicates while nobody failed
    CHECK(std::set<uint64_t>(offsets.begin(), offsets.end()).size() == 500);
  }
}

TEST_CASE("e2e: members share a group and none is lost or doubled while members join and leave", "[e2e][groups]") {
  BrokerProcess broker;
  auto admin = Connect(broker);
  REQUIRE_FALSE(admin->CreateTopic("jobs"));
  constexpr int kCount = 3000;

  std::mutex mu;
  std::multiset<uint64_t> acked;
  std::map<int, int> per_member;
  auto handler = [&](int member) {
    return [&, member](const herald::Delivery& d) {
      std::lock_guard lock(mu);
      acked.insert(d.message().offset);
      ++per_member[member];
      d.ack();
    };
  };
  // Three members over the run: one from the start, one joining, one leaving.
  auto m1 = Connect(broker);
  REQUIRE_FALSE(m1->Subscribe({.topic = "jobs", .group = "workers", .window = 50}, handler(1)));
  auto m2 = Connect(broker);
  REQUIRE_FALSE(m2->Subscribe({.topic = "jobs", .group = "workers", .window = 50}, handler(2)));

  // First half with members 1 and 2; then 3 joins and 2 leaves; the second half
  // is published while the membership changes.
  PublishAll(*admin, "jobs", kCount / 2);
  REQUIRE(Eventually([&] {
    std::lock_guard lock(mu);
    return acked.size() >= kCount / 4;
  }));
  auto m3 = Connect(broker);
  REQUIRE_FALSE(m3->Subscribe({.topic = "jobs", .group = "workers", .window = 50}, handler(3)));
  std::thread producer([&] { PublishAll(*admin, "jobs", kCount / 2); });
  m2.reset();  // leaves (its connection closes)
  producer.join();

  REQUIRE(Eventually([&] {
    std::lock_guard lock(mu);
    return std::set<uint64_t>(acked.begin(), acked.end()).size() == kCount;
  }));
  std::lock_guard lock(mu);
  std::set<uint64_t> unique(acked.begin(), acked.end());
  CHECK(unique.size() == kCount);
  CHECK(*unique.rbegin() == kCount - 1);
  // Acked means processed: an offset is acked twice only if it was redelivered
  // after its member left without acking it, never otherwise.
  CHECK(acked.size() - unique.size() <= 50);
  CHECK(per_member[1] > 0);
  CHECK(per_member[3] > 0);
}

TEST_CASE("e2e: within a group, a key's messages are processed in order, one at a time", "[e2e][groups]") {
  BrokerProcess broker;
  auto admin = Connect(broker);
  REQUIRE_FALSE(admin->CreateTopic("by-key"));
  constexpr int kCount = 1200, kKeys = 6;
  PublishAll(*admin, "by-key", kCount, "post-", kKeys);

  std::mutex mu;
  std::map<std::string, std::vector<uint64_t>> order;
  std::map<std::string, int> busy;
  bool overlap = false;
  std::atomic<int> done{0};
  auto handler = [&](const herald::Delivery& d) {
    std::string key = *d.message().key;
    {
      std::lock_guard lock(mu);
      if (busy[key]++ > 0) overlap = true;
      order[key].push_back(d.message().offset);
    }
    // Hold the message briefly on another thread so that members really overlap.
    std::thread([&, d, key] {
      std::this_thread::sleep_for(1ms);
      {
        std::lock_guard lock(mu);
        --busy[key];
      }
      d.ack();
      ++done;
    }).detach();
  };
  std::vector<std::unique_ptr<herald::Client>> members;
  for (int i = 0; i < 3; ++i) {
    members.push_back(Connect(broker));
    REQUIRE_FALSE(members.back()->Subscribe({.topic = "by-key", .group = "ordered"}, handler));
  }
  REQUIRE(Eventually([&] { return done.load() >= kCount; }, 60s));
  std::this_thread::sleep_for(50ms);  // let detached ackers finish touching shared state
  std::lock_guard lock(mu);
  CHECK_FALSE(overlap);
  for (auto& [key, offsets] : order) {
    INFO("key " << key);
    CHECK(std::is_sorted(offsets.begin(), offsets.end()));
    CHECK(offsets.size() == kCount / kKeys);
  }
}

TEST_CASE("e2e: unacked messages come back: member gone, deadline passed, nack", "[e2e][groups]") {
  BrokerProcess broker;
  auto admin = Connect(broker);
  REQUIRE_FALSE(admin->CreateTopic("work"));
  PublishAll(*admin, "work", 10);

  SECTION("a member that disconnects without acking") {
    std::atomic<int> held{0};
    auto quitter = Connect(broker);
    REQUIRE_FALSE(quitter->Subscribe({.topic = "work", .group = "g"}, [&](const herald::Delivery&) { ++held; }));
    REQUIRE(Eventually([&] { return held.load() == 10; }));
    std::mutex mu;
    std::map<uint64_t, uint32_t> counts;
    auto survivor = Connect(broker);
    REQUIRE_FALSE(survivor->Subscribe({.topic = "work", .group = "g"}, [&](const herald::Delivery& d) {
      std::lock_guard lock(mu);
      counts[d.message().offset] = d.message().delivery_count;
      d.ack();
    }));
    quitter.reset();
    REQUIRE(Eventually([&] {
      std::lock_guard lock(mu);
      return counts.size() == 10;
    }));
    std::lock_guard lock(mu);
    for (auto [offset, count] : counts) CHECK(count == 2);
  }
  SECTION("an ack deadline that passes") {
    std::mutex mu;
    std::vector<uint32_t> counts;
    auto c = Connect(broker);
    REQUIRE_FALSE(c->Subscribe({.topic = "work", .group = "slow", .window = 1, .ack_deadline = 300ms},
                               [&](const herald::Delivery& d) {
                                 std::lock_guard lock(mu);
                                 counts.push_back(d.message().delivery_count);
                                 if (d.message().delivery_count == 2) d.ack();  // ignore the first
                               }));
    REQUIRE(Eventually([&] {
      std::lock_guard lock(mu);
      return counts.size() >= 20;
    }, 30s));
    std::lock_guard lock(mu);
    CHECK(counts[0] == 1);
    CHECK(counts[1] == 2);
  }
  SECTION("a nack") {
    std::mutex mu;
    std::vector<std::pair<uint64_t, uint32_t>> got;
    auto c = Connect(broker);
    REQUIRE_FALSE(c->Subscribe({.topic = "work", .group = "picky"}, [&](const herald::Delivery& d) {
      std::lock_guard lock(mu);
      got.emplace_back(d.message().offset, d.message().delivery_count);
      if (d.message().offset == 3 && d.message().delivery_count == 1) {
        d.nack(50ms, "not yet");
      } else {
        d.ack();
      }
    }));
    REQUIRE(Eventually([&] {
      std::lock_guard lock(mu);
      return got.size() == 11;
    }));
    std::lock_guard lock(mu);
    CHECK(std::count(got.begin(), got.end(), std::make_pair(uint64_t{3}, uint32_t{2})) == 1);
  }
}
