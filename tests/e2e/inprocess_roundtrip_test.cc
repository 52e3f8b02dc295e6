// The SDK against the in-process broker: publish, fan-out, acks, restart.

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <catch2/catch.hpp>

#include "herald/client.h"
#include "herald/testing/in_process_broker.h"

using namespace std::chrono_literals;

namespace {

template <class Pred>
bool Eventually(Pred pred, std::chrono::milliseconds timeout = 10s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return pred();
}

}  // namespace

TEST_CASE("inprocess: publish, then two groups each receive every message", "[e2e][inprocess]") {
  herald::testing::InProcessBroker broker;
  herald::Client client({.broker = broker.address()});
  REQUIRE_FALSE(client.WaitConnected(5s));
  bool created = false;
  REQUIRE_FALSE(client.CreateTopic("orders", &created));
  CHECK(created);

  constexpr int kCount = 2000;
  std::vector<std::future<herald::PublishResult>> acks;
  for (int i = 0; i < kCount; ++i)
    acks.push_back(client.Publish("orders", {.key = {}, .headers = {{"n", std::to_string(i)}},
                                             .payload = "m" + std::to_string(i)}));
  std::set<uint64_t> offsets;
  for (auto& f : acks) {
    auto r = f.get();
    REQUIRE_FALSE(r.error);
    offsets.insert(r.offset);
  }
  REQUIRE(offsets.size() == kCount);
  CHECK(*offsets.rbegin() == kCount - 1);

  std::mutex mu;
  std::map<std::string, std::set<uint64_t>> seen;
  int mismatched = 0;  // checked on this thread: Catch2 assertions are not thread-safe
  for (std::string group : {"a", "b"}) {
    REQUIRE_FALSE(client.Subscribe({.topic = "orders", .group = group},
                                   [&, group](const herald::Delivery& d) {
                                     std::lock_guard lock(mu);
                                     seen[group].insert(d.message().offset);
                                     if (d.message().payload != "m" + std::string(*d.message().header("n"))) ++mismatched;
                                     d.ack();
                                   }));
  }
  REQUIRE(Eventually([&] {
    std::lock_guard lock(mu);
    return seen["a"].size() == kCount && seen["b"].size() == kCount;
  }));
  {
    std::lock_guard lock(mu);
    CHECK(mismatched == 0);
  }
  herald::TopicInfo info;
  REQUIRE(Eventually([&] {
    return !client.DescribeTopic("orders", &info) && info.groups.size() == 2 &&
           info.groups[0].ack_floor == kCount && info.groups[1].ack_floor == kCount;
  }));
}

TEST_CASE("inprocess: errors come back as herald error codes", "[e2e][inprocess]") {
  herald::testing::InProcessBroker broker;
  herald::Client client({.broker = broker.address()});
  auto r = client.PublishSync("missing", {.payload = "x"});
  CHECK(r.error == herald::errc::topic_not_found);
  CHECK(client.CreateTopic("bad name!") == herald::errc::invalid_topic_name);
  herald::TopicInfo info;
  CHECK(client.DescribeTopic("missing", &info) == herald::errc::topic_not_found);
  CHECK(client.Subscribe({.topic = "missing", .group = "g"}, [](const herald::Delivery&) {}) ==
        herald::errc::topic_not_found);
}

TEST_CASE("inprocess: a client reconnects, resubscribes and resends after a broker restart", "[e2e][inprocess]") {
  herald::testing::InProcessBroker broker;
  herald::Client client({.broker = broker.address()});
  REQUIRE_FALSE(client.CreateTopic("t"));
  std::mutex mu;
  std::set<std::string> got;
  REQUIRE_FALSE(client.Subscribe({.topic = "t", .group = "g"}, [&](const herald::Delivery& d) {
    std::lock_guard lock(mu);
    got.insert(std::string(d.message().payload));
    d.ack();
  }));
  REQUIRE_FALSE(client.PublishSync("t", {.payload = "before"}).error);
  broker.Restart();
  auto r = client.PublishSync("t", {.payload = "after"});
  REQUIRE_FALSE(r.error);
  CHECK(r.offset == 1);  // offsets continue across the restart
  REQUIRE(Eventually([&] {
    std::lock_guard lock(mu);
    return got.count("before") == 1 && got.count("after") == 1;
  }));
}

TEST_CASE("inprocess: a new group at latest sees only what comes after it", "[e2e][inprocess]") {
  herald::testing::InProcessBroker broker;
  herald::Client client({.broker = broker.address()});
  REQUIRE_FALSE(client.CreateTopic("t"));
  for (int i = 0; i < 5; ++i) REQUIRE_FALSE(client.PublishSync("t", {.payload = "old"}).error);
  std::mutex mu;
  std::vector<std::string> got;
  REQUIRE_FALSE(client.Subscribe({.topic = "t", .group = "late", .start = herald::StartFrom::latest},
                                 [&](const herald::Delivery& d) {
                                   std::lock_guard lock(mu);
                                   got.push_back(std::string(d.message().payload));
                                   d.ack();
                                 }));
  REQUIRE_FALSE(client.PublishSync("t", {.payload = "new"}).error);
  REQUIRE(Eventually([&] {
    std::lock_guard lock(mu);
    return !got.empty();
  }));
  std::this_thread::sleep_for(100ms);
  std::lock_guard lock(mu);
  CHECK(got == std::vector<std::string>{"new"});
}
