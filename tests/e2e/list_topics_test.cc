// ListTopics pages: a real brokerd with over a thousand topics, listed by raw
// frames, by the SDK (one page and every page) and by brokerctl. A reply holds
// at most one page (1,000 topics), so listing many topics never holds up the
// broker's other connections for long.

#include <cstdio>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "herald/client.h"
#include "schemas/token.h"
#include "tests/support/command.h"
#include "tests/support/principals_file.h"
#include "tests/support/raw_connection.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"

using namespace std::chrono_literals;
using herald::test::BrokerProcess;
using herald::test::RawConnection;
using herald::test::RunBrokerctl;
using herald::test::TempDir;
namespace wire = herald::wire;

namespace {

// More than one page's maximum; each create is a synced write (~1-3 ms here).
constexpr int kTopics = 1'100;
constexpr std::size_t kMaxPage = 1'000;  // PROTOCOL.md, ListTopics

std::string TopicName(int i) {
  char name[16];
  std::snprintf(name, sizeof name, "t-%05d", i);
  return name;
}

// Creates the topics over one connection, a few hundred requests in flight at
// a time (one blocking round trip each would make this test slow).
void CreateTopics(RawConnection& raw, int count) {
  constexpr int kInFlight = 250;
  for (int first = 0; first < count; first += kInFlight) {
    const int end = std::min(count, first + kInFlight);
    for (int i = first; i < end; ++i) {
      flatbuffers::FlatBufferBuilder fbb(64);
      auto name = fbb.CreateString(TopicName(i));
      REQUIRE(raw.Send(wire::FinishFrame(fbb, static_cast<uint64_t>(i) + 1,
                                         wire::CreateCreateTopic(fbb, name))));
    }
    for (int i = first; i < end; ++i) {
      const wire::Frame* reply = raw.ReadFrame(30s);
      REQUIRE(reply != nullptr);
      REQUIRE(reply->body_as_CreateTopicOk() != nullptr);
    }
  }
}

struct RawPage {
  std::vector<std::string> names;
  std::string next;
};

// ops may do anything; reader has some permission on t-00050..t-00059 (two
// overlapping patterns) and on t-00999, and on nothing else.
struct Principals {
  TempDir dir;
  std::string ops = wire::NewToken();
  std::string reader = wire::NewToken();
  std::string path = dir / "principals.toml";

  Principals() {
    herald::test::WriteFile(
        path, herald::test::PrincipalEntry("ops", ops, "admin = [\"*\"]") +
                  herald::test::PrincipalEntry(
                      "reader", reader,
                      "subscribe = [\"t-0005*\"]\nadmin = [\"t-00055\", \"t-0005*\"]\npublish = [\"t-00999\"]"));
  }
};

RawPage ListRaw(RawConnection& raw, const char* after, uint32_t limit) {
  flatbuffers::FlatBufferBuilder fbb(64);
  auto a = after ? fbb.CreateString(after) : flatbuffers::Offset<flatbuffers::String>();
  REQUIRE(raw.Send(wire::FinishFrame(fbb, 9'999, wire::CreateListTopics(fbb, a, limit))));
  const wire::Frame* reply = raw.ReadFrame(30s);
  REQUIRE(reply != nullptr);
  const wire::TopicList* list = reply->body_as_TopicList();
  REQUIRE(list != nullptr);
  RawPage page;
  if (list->topics()) {
    for (const wire::TopicInfo* t : *list->topics()) page.names.push_back(t->name()->str());
  }
  if (list->next()) page.next = list->next()->str();
  return page;
}

}  // namespace

TEST_CASE("e2e: ListTopics pages through over a thousand topics in name order", "[e2e][list]") {
  Principals principals;
  BrokerProcess broker({"--auth-file", principals.path});
  RawConnection raw(broker.port());
  REQUIRE(raw.Handshake(principals.ops));
  CreateTopics(raw, kTopics);

  {
    INFO("one reply holds at most one page; an over-large limit is clamped");
    RawPage page = ListRaw(raw, nullptr, 1'000'000);
    CHECK(page.names.size() == kMaxPage);
    CHECK(page.names.front() == TopicName(0));
    CHECK(page.next == TopicName(static_cast<int>(kMaxPage) - 1));
    RawPage by_default = ListRaw(raw, nullptr, 0);  // an old client's request: no fields
    CHECK(by_default.names.size() == 100);
    CHECK(by_default.next == TopicName(99));
  }

  {
    INFO("small pages list every topic exactly once, in order");
    herald::Client client({.broker = broker.address(), .token = principals.ops});
    std::vector<std::string> seen;
    herald::TopicPage page;
    std::string after;
    for (int requests = 0; requests < kTopics; ++requests) {  // bounded: 1,100 / 7 pages needed
      REQUIRE_FALSE(client.ListTopics(after, 7, &page));
      REQUIRE(page.topics.size() <= 7);
      for (const auto& t : page.topics) seen.push_back(t.name);
      if (page.next.empty()) break;
      after = page.next;
    }
    CHECK(page.next.empty());
    REQUIRE(seen.size() == static_cast<std::size_t>(kTopics));
    for (int i = 0; i < kTopics; ++i) REQUIRE(seen[static_cast<std::size_t>(i)] == TopicName(i));

    // Every page behind one call, as before paging.
    std::vector<herald::TopicInfo> all;
    REQUIRE_FALSE(client.ListTopics(&all));
    REQUIRE(all.size() == static_cast<std::size_t>(kTopics));
    CHECK(all.front().name == TopicName(0));
    CHECK(all.back().name == TopicName(kTopics - 1));
  }

  {
    INFO("the cursor is a position, not a key");
    RawPage between = ListRaw(raw, "t-00500x", 2);  // no such topic: the ones after it
    CHECK(between.names == std::vector<std::string>{TopicName(501), TopicName(502)});
    CHECK(between.next == TopicName(502));
    RawPage before_all = ListRaw(raw, "a", 1);
    CHECK(before_all.names == std::vector<std::string>{TopicName(0)});
    RawPage past_all = ListRaw(raw, "zzz", 10);
    CHECK(past_all.names.empty());
    CHECK(past_all.next.empty());
    RawPage last = ListRaw(raw, TopicName(kTopics - 3).c_str(), 2);  // exactly the rest
    CHECK(last.names.size() == 2);
    CHECK(last.next.empty());
  }

  {
    INFO("with auth on, pages and cursors hold only the topics the principal may see");
    RawConnection as_reader(broker.port());
    REQUIRE(as_reader.Handshake(principals.reader));
    std::vector<std::string> seen;
    std::string after;
    for (int requests = 0; requests < 10; ++requests) {
      RawPage page = ListRaw(as_reader, after.c_str(), 3);
      CHECK(page.names.size() <= 3);
      seen.insert(seen.end(), page.names.begin(), page.names.end());
      if (page.next.empty()) break;
      CHECK(page.next == page.names.back());  // a name it may see, never one it may not
      after = page.next;
    }
    std::vector<std::string> expected;
    for (int i = 50; i < 60; ++i) expected.push_back(TopicName(i));
    expected.push_back(TopicName(999));
    CHECK(seen == expected);
    CHECK(ListRaw(as_reader, "t-00059", 5).names == std::vector<std::string>{TopicName(999)});
  }

  {
    INFO("brokerctl lists everything by default, one page with --limit/--after");
    auto all = RunBrokerctl(broker.address(), "--token " + principals.ops + " topic list");
    REQUIRE(all.exit_code == 0);
    CHECK(std::count(all.out.begin(), all.out.end(), '\n') == kTopics + 1);  // and the header
    CHECK(all.out.find(TopicName(kTopics - 1)) != std::string::npos);

    auto page = RunBrokerctl(broker.address(), "--token " + principals.ops + " topic list --limit 2 --after t-00900");
    REQUIRE(page.exit_code == 0);
    CHECK(page.out.find(TopicName(901)) != std::string::npos);
    CHECK(page.out.find(TopicName(902)) != std::string::npos);
    CHECK(page.out.find(TopicName(903)) == std::string::npos);
    CHECK(page.out.find("next page: --after t-00902") != std::string::npos);
    auto last = RunBrokerctl(broker.address(), "--token " + principals.ops + " topic list --limit 5 --after t-01098");
    REQUIRE(last.exit_code == 0);
    CHECK(last.out.find("(last page)") != std::string::npos);

    auto json = RunBrokerctl(broker.address(), "--token " + principals.ops + " topic list --limit 2 --json");
    REQUIRE(json.exit_code == 0);
    auto doc = nlohmann::json::parse(json.out);
    CHECK(doc["topics"].size() == 2);
    CHECK(doc["next"] == TopicName(1));
  }
}

TEST_CASE("e2e: status counts groups as they come and go", "[e2e][list]") {
  BrokerProcess broker;
  herald::Client client({.broker = broker.address()});
  REQUIRE_FALSE(client.CreateTopic("a"));
  REQUIRE_FALSE(client.CreateTopic("b"));
  herald::SubscriptionId id = 0;
  REQUIRE_FALSE(client.Subscribe({.topic = "a", .group = "g1"}, [](const herald::Delivery&) {}, &id));
  REQUIRE_FALSE(client.Unsubscribe(id));
  REQUIRE_FALSE(client.Subscribe({.topic = "a", .group = "g2"}, [](const herald::Delivery&) {}, &id));
  REQUIRE_FALSE(client.Unsubscribe(id));
  REQUIRE_FALSE(client.Subscribe({.topic = "b", .group = "g1"}, [](const herald::Delivery&) {}, &id));
  REQUIRE_FALSE(client.Unsubscribe(id));
  herald::BrokerStatus status;
  REQUIRE_FALSE(client.Status(&status));
  CHECK(status.topics == 2);
  CHECK(status.groups == 3);
  REQUIRE_FALSE(client.DeleteGroup("a", "g2"));
  REQUIRE_FALSE(client.DeleteTopic("b"));
  REQUIRE_FALSE(client.Status(&status));
  CHECK(status.topics == 1);
  CHECK(status.groups == 1);
  broker.Restart();  // loaded from the store, counted again
  herald::Client again({.broker = broker.address()});
  REQUIRE_FALSE(again.WaitConnected(10s));
  REQUIRE_FALSE(again.Status(&status));
  CHECK(status.groups == 1);
}
