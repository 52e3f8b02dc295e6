// Operating a real brokerd through the SDK: retention by count, bytes and
// age (earliest offset moves, disk space comes back, groups that fell behind
// skip ahead and say so), replay from an offset or a time, fetch without a
// group, dead letters after the maximum deliveries, backoff, ack-deadline
// extension, and group reset/delete with their error paths.

#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <catch2/catch.hpp>

#include "herald/client.h"
#include "tests/support/client.h"
#include "tests/support/server_process.h"

using namespace std::chrono_literals;
using herald::test::BrokerProcess;
using herald::test::Connect;
using herald::test::Eventually;

namespace {

// Retention passes every 100 ms so that tests need not wait for the 10 s default.
BrokerProcess FastRetentionBroker() { return BrokerProcess({"--retention-interval", "100ms"}); }

// One message per publish (one record batch each), so that limits apply message by message.
void PublishEach(herald::Client& c, const std::string& topic, int n, std::size_t size = 16,
                 int first = 0) {
  for (int i = first; i < first + n; ++i) {
    herald::Message m;
    m.payload = std::to_string(i);
    m.payload.resize(std::max(size, m.payload.size()), '.');
    REQUIRE_FALSE(c.PublishSync(topic, std::move(m)).error);
  }
}

herald::TopicInfo Describe(herald::Client& c, const std::string& topic) {
  herald::TopicInfo info;
  REQUIRE_FALSE(c.DescribeTopic(topic, &info));
  return info;
}

herald::GroupInfo DescribeGroup(herald::Client& c, const std::string& topic, const std::string& group) {
  herald::GroupInfo info;
  REQUIRE_FALSE(c.DescribeGroup(topic, group, &info));
  return info;
}

// Collects what a subscription receives, acking everything.
struct Collector {
  std::mutex mu;
  std::vector<uint64_t> offsets;
  std::vector<herald::ReceivedMessage> messages;
  herald::MessageHandler Handler() {
    return [this](const herald::Delivery& d) {
      std::lock_guard lock(mu);
      offsets.push_back(d.message().offset);
      messages.push_back(d.message());
      d.ack();
    };
  }
  std::size_t size() {
    std::lock_guard lock(mu);
    return offsets.size();
  }
  std::vector<uint64_t> Offsets() {
    std::lock_guard lock(mu);
    return offsets;
  }
};

}  // namespace

TEST_CASE("e2e: retention by message count moves the earliest offset", "[e2e][retention]") {
  auto broker = FastRetentionBroker();
  auto c = Connect(broker);
  REQUIRE_FALSE(c->CreateTopic("counted", herald::Retention{.max_messages = 10}));
  CHECK(Describe(*c, "counted").retention.max_messages == 10);
  // A group that joined once and left: it falls behind the earliest offset.
  auto other = Connect(broker);
  herald::SubscriptionId sid = 0;
  REQUIRE_FALSE(other->Subscribe({.topic = "counted", .group = "behind"}, [](const herald::Delivery&) {},
                                 &sid));
  REQUIRE_FALSE(other->Unsubscribe(sid));

  PublishEach(*c, "counted", 50);
  INFO(broker.LogTail());
  REQUIRE(Eventually([&] { return Describe(*c, "counted").earliest_offset == 40; }, 10s, 20ms));
  herald::TopicInfo info = Describe(*c, "counted");
  CHECK(info.next_offset == 50);
  CHECK(info.message_count == 10);

  // The group that never read skipped 40 messages and continues at 40.
  REQUIRE(Eventually([&] { return DescribeGroup(*c, "counted", "behind").skipped == 40; }, 10s, 20ms));
  Collector got;
  REQUIRE_FALSE(other->Subscribe({.topic = "counted", .group = "behind"}, got.Handler()));
  REQUIRE(Eventually([&] { return got.size() == 10; }, 10s));
  auto offsets = got.Offsets();
  CHECK(*std::min_element(offsets.begin(), offsets.end()) == 40);
  REQUIRE(Eventually([&] { return DescribeGroup(*c, "counted", "behind").lag == 0; }, 10s));
}

TEST_CASE("e2e: retention by bytes gives the disk space back", "[e2e][retention]") {
  auto broker = FastRetentionBroker();
  auto c = Connect(broker);
  REQUIRE_FALSE(c->CreateTopic("big", herald::Retention{}));  // no limits yet
  // 24 MiB of incompressible-ish payloads, 256 KiB each.
  std::string payload(256 << 10, 'x');
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>((i * 2654435761u) >> 13);
  for (int i = 0; i < 96; ++i) {
    payload[0] = static_cast<char>(i);
    REQUIRE_FALSE(c->PublishSync("big", herald::Message{.payload = payload}).error);
  }
  herald::BrokerStatus full;
  REQUIRE_FALSE(c->Status(&full));
  CHECK(full.storage_bytes > (20u << 20));

  REQUIRE_FALSE(c->AlterTopic("big", herald::Retention{.max_bytes = 2u << 20}));
  INFO(broker.LogTail());
  REQUIRE(Eventually([&] { return Describe(*c, "big").bytes <= (2u << 20); }, 15s, 20ms));
  herald::TopicInfo info = Describe(*c, "big");
  CHECK(info.earliest_offset >= 88);
  CHECK(info.next_offset == 96);
  // Range deletion plus compaction: the database shrinks to about what is kept.
  REQUIRE(Eventually([&] {
    herald::BrokerStatus now;
    return !c->Status(&now) && now.storage_bytes < (8u << 20);
  }, 20s, 50ms));
}

TEST_CASE("e2e: retention by age empties a topic, and the offsets survive a restart", "[e2e][retention]") {
  auto broker = FastRetentionBroker();
  {
    auto c = Connect(broker);
    REQUIRE_FALSE(c->CreateTopic("fleeting", herald::Retention{.max_age = 1s}));
    PublishEach(*c, "fleeting", 5);
    INFO(broker.LogTail());
    REQUIRE(Eventually([&] { return Describe(*c, "fleeting").message_count == 0; }, 10s, 20ms));
    CHECK(Describe(*c, "fleeting").earliest_offset == 5);
  }
  REQUIRE(broker.Stop() == 0);
  broker.Restart();
  auto c = Connect(broker);
  herald::TopicInfo info = Describe(*c, "fleeting");
  CHECK(info.earliest_offset == 5);
  CHECK(info.next_offset == 5);
  CHECK(info.retention.max_age == 1s);
  PublishEach(*c, "fleeting", 1);
  CHECK(Describe(*c, "fleeting").next_offset == 6);  // offsets are never reused
}

TEST_CASE("e2e: a new topic gets the broker's default retention of 7 days", "[e2e][retention]") {
  BrokerProcess broker;
  auto c = Connect(broker);
  REQUIRE_FALSE(c->CreateTopic("defaults"));
  herald::TopicInfo info = Describe(*c, "defaults");
  CHECK(info.retention.max_age == std::chrono::hours(24 * 7));
  CHECK(info.retention.max_bytes == 0);
  CHECK(info.retention.max_messages == 0);
}

TEST_CASE("e2e: purge empties a topic, its groups continue after it", "[e2e][retention]") {
  BrokerProcess broker;
  auto c = Connect(broker);
  REQUIRE_FALSE(c->CreateTopic("purged"));
  PublishEach(*c, "purged", 20);
  herald::TopicInfo info;
  REQUIRE_FALSE(c->PurgeTopic("purged", &info));
  CHECK(info.earliest_offset == 20);
  CHECK(info.message_count == 0);
  PublishEach(*c, "purged", 3, 16, 20);
  Collector got;
  REQUIRE_FALSE(c->Subscribe({.topic = "purged", .group = "g"}, got.Handler()));
  REQUIRE(Eventually([&] { return got.size() == 3; }, 10s));
  CHECK(got.Offsets() == std::vector<uint64_t>{20, 21, 22});
}

TEST_CASE("e2e: a new group starts at an offset or at a time", "[e2e][replay]") {
  BrokerProcess broker;
  auto c = Connect(broker);
  REQUIRE_FALSE(c->CreateTopic("history"));
  PublishEach(*c, "history", 10);
  std::this_thread::sleep_for(20ms);  // broker timestamps are in ms: keep the halves apart
  const int64_t cut = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  std::this_thread::sleep_for(5ms);
  PublishEach(*c, "history", 10, 16, 10);

  Collector from_offset, from_time;
  REQUIRE_FALSE(c->Subscribe({.topic = "history", .group = "at-offset",
                              .start = herald::StartPosition::AtOffset(5)}, from_offset.Handler()));
  REQUIRE_FALSE(c->Subscribe({.topic = "history", .group = "at-time",
                              .start = herald::StartPosition::AtTime(cut)}, from_time.Handler()));
  REQUIRE(Eventually([&] { return from_offset.size() == 15 && from_time.size() == 10; }, 10s));
  auto a = from_offset.Offsets(), b = from_time.Offsets();
  CHECK(*std::min_element(a.begin(), a.end()) == 5);
  CHECK(*std::min_element(b.begin(), b.end()) == 10);
}

TEST_CASE("e2e: fetch reads history without a group", "[e2e][replay]") {
  BrokerProcess broker;
  auto c = Connect(broker);
  REQUIRE_FALSE(c->CreateTopic("peek"));
  PublishEach(*c, "peek", 30);
  herald::FetchResult r;
  REQUIRE_FALSE(c->Fetch("peek", herald::StartPosition::AtOffset(25), 100, &r));
  REQUIRE(r.messages.size() == 5);
  CHECK(r.messages.front().offset == 25);
  CHECK(r.messages.front().payload.starts_with("25"));
  CHECK(r.next_offset == 30);
  CHECK(r.end_offset == 30);
  REQUIRE_FALSE(c->Fetch("peek", herald::StartFrom::latest, 100, &r));
  CHECK(r.messages.empty());
  CHECK(Describe(*c, "peek").groups.empty());  // nothing was created or moved
  CHECK(c->Fetch("nope", herald::StartFrom::earliest, 10, &r) == herald::errc::topic_not_found);
}

TEST_CASE("e2e: a poison message goes to TOPIC.dlq after max deliveries, later ones keep flowing",
          "[e2e][dlq]") {
  BrokerProcess broker;
  auto c = Connect(broker);
  REQUIRE_FALSE(c->CreateTopic("orders"));
  REQUIRE_FALSE(c->PublishSync("orders", herald::Message{.key = "k", .headers = {{"trace", "t-1"}},
                                                          .payload = "poison"}).error);
  PublishEach(*c, "orders", 9, 16, 1);

  std::mutex mu;
  int poison_deliveries = 0;
  std::set<uint64_t> acked;
  REQUIRE_FALSE(c->Subscribe({.topic = "orders", .group = "billing", .max_deliveries = 3},
                             [&](const herald::Delivery& d) {
    std::lock_guard lock(mu);
    if (d.message().payload == "poison") {
      ++poison_deliveries;
      d.nack(0ms, "cannot parse order");
    } else {
      acked.insert(d.message().offset);
      d.ack();
    }
  }));
  INFO(broker.LogTail());
  REQUIRE(Eventually([&] {
    std::lock_guard lock(mu);
    return acked.size() == 9;
  }, 10s));
  REQUIRE(Eventually([&] { return DescribeGroup(*c, "orders", "billing").dead_lettered == 1; }, 10s));
  herald::GroupInfo g = DescribeGroup(*c, "orders", "billing");
  CHECK(g.lag == 0);
  CHECK(g.max_deliveries == 3);
  {
    std::lock_guard lock(mu);
    CHECK(poison_deliveries == 3);
  }

  herald::FetchResult dlq;
  REQUIRE_FALSE(c->Fetch("orders.dlq", herald::StartFrom::earliest, 10, &dlq));
  REQUIRE(dlq.messages.size() == 1);
  const herald::ReceivedMessage& letter = dlq.messages[0];
  CHECK(letter.payload == "poison");
  CHECK(letter.key == std::optional<std::string>("k"));
  REQUIRE(letter.header("trace"));
  CHECK(*letter.header("trace") == "t-1");
  REQUIRE(letter.header("x-herald-dlq-topic"));
  CHECK(*letter.header("x-herald-dlq-topic") == "orders");
  CHECK(*letter.header("x-herald-dlq-offset") == "0");
  CHECK(*letter.header("x-herald-dlq-group") == "billing");
  CHECK(*letter.header("x-herald-dlq-delivery-count") == "3");
  CHECK(*letter.header("x-herald-dlq-reason") == "cannot parse order");

  // Another group on the same topic is not affected: it still gets the poison message.
  Collector other;
  REQUIRE_FALSE(c->Subscribe({.topic = "orders", .group = "audit"}, other.Handler()));
  REQUIRE(Eventually([&] { return other.size() == 10; }, 10s));
}

TEST_CASE("e2e: the group's backoff spaces redeliveries", "[e2e][dlq]") {
  BrokerProcess broker;
  auto c = Connect(broker);
  REQUIRE_FALSE(c->CreateTopic("retry"));
  PublishEach(*c, "retry", 1);
  std::mutex mu;
  std::vector<std::chrono::steady_clock::time_point> seen;
  REQUIRE_FALSE(c->Subscribe({.topic = "retry", .group = "g", .max_deliveries = 5,
                              .backoff = {300ms, 600ms}},
                             [&](const herald::Delivery& d) {
    std::lock_guard lock(mu);
    seen.push_back(std::chrono::steady_clock::now());
    if (seen.size() < 3) d.nack(); else d.ack();
  }));
  REQUIRE(Eventually([&] {
    std::lock_guard lock(mu);
    return seen.size() == 3;
  }, 10s));
  std::lock_guard lock(mu);
  // Lower bounds only (a delay is a promise); the broker ticks every 100 ms.
  CHECK(seen[1] - seen[0] >= 250ms);
  CHECK(seen[2] - seen[1] >= 550ms);
  herald::GroupInfo g = DescribeGroup(*c, "retry", "g");
  CHECK(g.redeliveries == 2);
  CHECK(g.backoff == std::vector<std::chrono::milliseconds>{300ms, 600ms});
}

TEST_CASE("e2e: extending the ack deadline prevents a redelivery", "[e2e][dlq]") {
  BrokerProcess broker;
  auto c = Connect(broker);
  REQUIRE_FALSE(c->CreateTopic("slow"));
  PublishEach(*c, "slow", 1);
  std::mutex mu;
  std::vector<herald::Delivery> held;
  std::vector<uint32_t> counts;
  REQUIRE_FALSE(c->Subscribe({.topic = "slow", .group = "g", .ack_deadline = 400ms},
                             [&](const herald::Delivery& d) {
    std::lock_guard lock(mu);
    held.push_back(d);
    counts.push_back(d.message().delivery_count);
  }));
  REQUIRE(Eventually([&] {
    std::lock_guard lock(mu);
    return !held.empty();
  }, 10s));
  // "Still working" for 1.5 s, almost four deadlines.
  for (int i = 0; i < 10; ++i) {
    {
      std::lock_guard lock(mu);
      held.front().extend_deadline();
    }
    std::this_thread::sleep_for(150ms);
  }
  {
    std::lock_guard lock(mu);
    CHECK(counts == std::vector<uint32_t>{1});
    held.front().ack();
  }
  REQUIRE(Eventually([&] { return DescribeGroup(*c, "slow", "g").lag == 0; }, 10s));
}

TEST_CASE("e2e: group reset and delete need an idle group", "[e2e][groups]") {
  BrokerProcess broker;
  auto c = Connect(broker);
  REQUIRE_FALSE(c->CreateTopic("events"));
  PublishEach(*c, "events", 10);
  Collector first;
  herald::SubscriptionId sid = 0;
  REQUIRE_FALSE(c->Subscribe({.topic = "events", .group = "g"}, first.Handler(), &sid));
  REQUIRE(Eventually([&] { return first.size() == 10; }, 10s));
  REQUIRE(Eventually([&] { return DescribeGroup(*c, "events", "g").lag == 0; }, 10s));

  CHECK(c->ResetGroup("events", "g", herald::StartFrom::earliest) == herald::errc::group_busy);
  CHECK(c->DeleteGroup("events", "g") == herald::errc::group_busy);
  REQUIRE_FALSE(c->Unsubscribe(sid));

  herald::GroupInfo after;
  REQUIRE_FALSE(c->ResetGroup("events", "g", herald::StartPosition::AtOffset(4), &after));
  CHECK(after.ack_floor == 4);
  CHECK(after.lag == 6);
  Collector second;
  REQUIRE_FALSE(c->Subscribe({.topic = "events", .group = "g"}, second.Handler(), &sid));
  REQUIRE(Eventually([&] { return second.size() == 6; }, 10s));
  REQUIRE_FALSE(c->Unsubscribe(sid));

  REQUIRE_FALSE(c->DeleteGroup("events", "g"));
  herald::GroupInfo gone;
  CHECK(c->DescribeGroup("events", "g", &gone) == herald::errc::group_not_found);
  CHECK(c->DescribeGroup("nope", "g", &gone) == herald::errc::topic_not_found);
  CHECK(c->ResetGroup("events", "missing", herald::StartFrom::latest) == herald::errc::group_not_found);
  CHECK(c->DescribeGroup("events", "bad name!", &gone) == herald::errc::invalid_group_name);
}

TEST_CASE("e2e: status reports the broker", "[e2e]") {
  BrokerProcess broker;
  auto c = Connect(broker);
  REQUIRE_FALSE(c->CreateTopic("a"));
  herald::BrokerStatus s;
  REQUIRE_FALSE(c->Status(&s));
  CHECK_FALSE(s.broker_version.empty());
  CHECK(s.topics == 1);
  CHECK(s.connections >= 1);
  CHECK(s.data_dir.find(broker.dir()) != std::string::npos);
}
