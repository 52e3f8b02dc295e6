// Consumer groups through the SDK, each case on brokerd and on a 3-node NATS
// JetStream cluster (tests/support/engine.h): fan-out and each group's position,
// sharing while members come and go, per-key order, redelivery. Offsets are
// compared relative to the first one published (brokerd counts from 0, a stream
// from 1).

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>

#include <catch2/catch.hpp>

#include "herald/client.h"
#include "tests/support/engine.h"

using namespace std::chrono_literals;
using herald::test::Engine;
using herald::test::EngineKinds;
using herald::test::Eventually;

namespace {

// Publishes n messages (pipelined) and returns the first one's offset.
uint64_t PublishAll(herald::Client& c, const std::string& topic, int n, const std::string& key_prefix = "",
                    int keys = 0) {
  std::vector<std::future<herald::PublishResult>> acks;
  for (int i = 0; i < n; ++i) {
    herald::Message m;
    if (keys > 0) m.key = key_prefix + std::to_string(i % keys);
    m.payload = std::to_string(i);
    acks.push_back(c.Publish(topic, std::move(m)));
  }
  uint64_t first = herald::PublishResult::kUnknownOffset;
  for (auto& f : acks) {
    auto r = f.get();
    REQUIRE_FALSE(r.error);
    first = std::min(first, r.offset);
  }
  return first;
}

}  // namespace

TEST_CASE("e2e: every group gets every message (fan-out)", "[e2e][groups]") {
  Engine engine(GENERATE(from_range(EngineKinds())));
  INFO("engine " << engine.kind);
  auto client = engine.Connect();
  REQUIRE_FALSE(client->CreateTopic("comment-created"));
  const uint64_t first = PublishAll(*client, "comment-created", 500);

  std::mutex mu;
  std::map<std::string, std::multiset<uint64_t>> seen;
  std::vector<std::unique_ptr<herald::Client>> consumers;
  for (std::string group : {"post-service", "notification-service"}) {
    consumers.push_back(engine.Connect());
    REQUIRE_FALSE(consumers.back()->Subscribe(
        {.topic = "comment-created", .group = group}, [&, group](const herald::Delivery& d) {
          std::lock_guard lock(mu);
          seen[group].insert(d.message().offset);
          d.ack();
        }));
  }
  INFO(engine.LogTail());
  REQUIRE(Eventually([&] {
    std::lock_guard lock(mu);
    return seen["post-service"].size() >= 500 && seen["notification-service"].size() >= 500;
  }));
  {
    std::lock_guard lock(mu);
    for (auto& [group, offsets] : seen) {
      CHECK(offsets.size() == 500);  // no duplicates while nobody failed
      CHECK(std::set<uint64_t>(offsets.begin(), offsets.end()).size() == 500);
    }
  }

  // A group's position is the first offset not yet acked: past the last once
  // all are acked; the first for a group that acks nothing.
  std::atomic<int> held{0};
  consumers.push_back(engine.Connect());
  REQUIRE_FALSE(consumers.back()->Subscribe({.topic = "comment-created", .group = "auditor", .window = 10},
                                            [&](const herald::Delivery&) { ++held; }));
  REQUIRE(Eventually([&] { return held.load() == 10; }));
  herald::GroupInfo g;
  REQUIRE(Eventually([&] {
    return !client->DescribeGroup("comment-created", "post-service", &g) && g.ack_floor == first + 500;
  }));
  CHECK(g.lag == 0);
  CHECK(g.in_flight == 0);
  REQUIRE(Eventually([&] {
    return !client->DescribeGroup("comment-created", "auditor", &g) && g.in_flight == 10;
  }));
  CHECK(g.ack_floor == first);
  CHECK(g.lag == 500);
  // ListTopics lists a topic's groups (by name), as DescribeTopic does.
  std::vector<herald::TopicInfo> topics;
  REQUIRE_FALSE(client->ListTopics(&topics));
  auto topic = std::find_if(topics.begin(), topics.end(), [](const auto& t) { return t.name == "comment-created"; });
  REQUIRE(topic != topics.end());
  std::vector<std::pair<std::string, uint64_t>> positions;
  for (const auto& group : topic->groups) positions.emplace_back(group.name, group.ack_floor);
  CHECK(positions == std::vector<std::pair<std::string, uint64_t>>{
                         {"auditor", first}, {"notification-service", first + 500}, {"post-service", first + 500}});
}

TEST_CASE("e2e: members share a group and none is lost or doubled while members join and leave", "[e2e][groups]") {
  Engine engine(GENERATE(from_range(EngineKinds())));
  INFO("engine " << engine.kind);
  auto admin = engine.Connect();
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
  const herald::SubscribeOptions options{.topic = "jobs", .group = "workers", .window = 50};
  // Three members over the run: one from the start, one joining, one leaving.
  auto m1 = engine.Connect();
  REQUIRE_FALSE(m1->Subscribe(options, handler(1)));
  auto m2 = engine.Connect();
  REQUIRE_FALSE(m2->Subscribe(options, handler(2)));

  // First half with members 1 and 2; then 3 joins and 2 leaves; the second half
  // is published while the membership changes.
  const uint64_t first = PublishAll(*admin, "jobs", kCount / 2);
  REQUIRE(Eventually([&] {
    std::lock_guard lock(mu);
    return acked.size() >= kCount / 4;
  }));
  auto m3 = engine.Connect();
  REQUIRE_FALSE(m3->Subscribe(options, handler(3)));
  std::thread producer([&] { PublishAll(*admin, "jobs", kCount / 2); });
  m2.reset();  // leaves (its connection closes)
  producer.join();

  // On NATS, allow one AckWait (the 30 s default deadline) more: nats-server
  // 2.9.10 can fail to redeliver a message the leaving member gave back until
  // its AckWait passes (fixed upstream, nats-server PR #5338). Prompt hand-over
  // is checked on its own in the parity case on unsubscribing.
  bool all = Eventually([&] {
    std::lock_guard lock(mu);
    return std::set<uint64_t>(acked.begin(), acked.end()).size() == kCount;
  }, engine.kind == "nats" ? 45s : 15s);
  if (!all) {
    herald::GroupInfo g;
    admin->DescribeGroup("jobs", "workers", &g);
    std::lock_guard lock(mu);
    WARN("acked " << std::set<uint64_t>(acked.begin(), acked.end()).size() << " of " << kCount << "; group: in flight "
                  << g.in_flight << ", ack floor " << g.ack_floor << ", read cursor " << g.read_cursor << "\n"
                  << engine.LogTail());
  }
  REQUIRE(all);
  std::lock_guard lock(mu);
  std::set<uint64_t> unique(acked.begin(), acked.end());
  CHECK(unique.size() == kCount);
  CHECK(*unique.begin() == first);
  CHECK(*unique.rbegin() == first + kCount - 1);
  // Acked means processed: an offset is acked twice only if it was redelivered
  // after its member left without acking it, never otherwise.
  CHECK(acked.size() - unique.size() <= 50);
  CHECK(per_member[1] > 0);
  CHECK(per_member[3] > 0);
}

TEST_CASE("e2e: within a group, a key's messages are processed in order, one at a time", "[e2e][groups]") {
  Engine engine(GENERATE(from_range(EngineKinds())));
  INFO("engine " << engine.kind);
  // JetStream has no keys: the order holds there only with one member and a
  // window of 1 (client/NATS.md, "Per-key order across members").
  const int members = engine.nats() ? 1 : 3;
  const uint32_t window = engine.nats() ? 1 : 0;
  auto admin = engine.Connect();
  REQUIRE_FALSE(admin->CreateTopic("by-key"));
  constexpr int kCount = 1200, kKeys = 6;
  PublishAll(*admin, "by-key", kCount, "post-", kKeys);

  std::mutex mu;
  std::map<std::string, std::vector<uint64_t>> order;
  std::map<std::string, int> busy;
  bool overlap = false;
  std::atomic<int> done{0};
  auto handler = [&](const herald::Delivery& d) {
    std::string key(*d.message().key);
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
  std::vector<std::unique_ptr<herald::Client>> clients;
  for (int i = 0; i < members; ++i) {
    clients.push_back(engine.Connect());
    REQUIRE_FALSE(clients.back()->Subscribe({.topic = "by-key", .group = "ordered", .window = window}, handler));
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

// One engine for the three ways back, each with a group of its own.
TEST_CASE("e2e: unacked messages come back: member gone, deadline passed, nack", "[e2e][groups]") {
  Engine engine(GENERATE(from_range(EngineKinds())));
  INFO("engine " << engine.kind);
  auto admin = engine.Connect();
  REQUIRE_FALSE(admin->CreateTopic("work"));
  const uint64_t first = PublishAll(*admin, "work", 10);

  {
    INFO("a member that disconnects without acking");
    std::atomic<int> held{0};
    auto quitter = engine.Connect();
    REQUIRE_FALSE(quitter->Subscribe({.topic = "work", .group = "g"}, [&](const herald::Delivery&) { ++held; }));
    REQUIRE(Eventually([&] { return held.load() == 10; }));
    std::mutex mu;
    std::map<uint64_t, uint32_t> counts;
    auto survivor = engine.Connect();
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
  {
    INFO("an ack deadline that passes");
    std::mutex mu;
    std::vector<uint32_t> counts;
    auto c = engine.Connect();
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
  {
    INFO("a nack");
    std::mutex mu;
    std::vector<std::pair<uint64_t, uint32_t>> got;
    auto c = engine.Connect();
    REQUIRE_FALSE(c->Subscribe({.topic = "work", .group = "picky"}, [&](const herald::Delivery& d) {
      std::lock_guard lock(mu);
      got.emplace_back(d.message().offset, d.message().delivery_count);
      if (d.message().offset == first + 3 && d.message().delivery_count == 1) {
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
    CHECK(std::count(got.begin(), got.end(), std::make_pair(first + 3, uint32_t{2})) == 1);
  }
}

// Hidden: how fast one member drains a backlog (20,000 messages, window 1,000),
// acking each at once. Prints msg/s per engine.
TEST_CASE("e2e: one member drains a backlog", "[.][throughput]") {
  Engine engine(GENERATE(from_range(EngineKinds())));
  auto admin = engine.Connect();
  REQUIRE_FALSE(admin->CreateTopic("backlog"));
  constexpr int kCount = 20000;
  PublishAll(*admin, "backlog", kCount);
  std::atomic<int> acked{0};
  auto member = engine.Connect();
  const auto start = std::chrono::steady_clock::now();
  REQUIRE_FALSE(member->Subscribe({.topic = "backlog", .group = "drain", .window = 1000},
                                  [&](const herald::Delivery& d) {
                                    d.ack();
                                    ++acked;
                                  }));
  REQUIRE(Eventually([&] { return acked.load() >= kCount; }, 120s));
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%s: one member drained %d messages in %.2f s, %.0f msg/s\n", engine.kind.c_str(), kCount, s,
              kCount / s);
}
