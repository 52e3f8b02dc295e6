// brokerctl's operating commands against a real brokerd: status, topic
// describe/alter/delete with retention, groups (list, describe, reset,
// delete), history reads and tail without a group, output formats, dead
// letters, and the exit codes scripts rely on.

#include <atomic>
#include <sstream>
#include <thread>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "herald/client.h"
#include "tests/support/client.h"
#include "tests/support/command.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"

using namespace std::chrono_literals;
using herald::test::BrokerProcess;
using herald::test::CommandResult;
using herald::test::Connect;
using herald::test::Eventually;
using herald::test::RunBrokerctl;
using herald::test::TempDir;
using herald::test::WriteFile;
using nlohmann::json;

namespace {

// brokerctl against `broker`, stdin from `stdin_path` (default /dev/null: no
// terminal, as in a script; the confirmations need that).
CommandResult Ctl(const BrokerProcess& broker, const std::string& args,
                  const std::string& stdin_path = "/dev/null") {
  return RunBrokerctl(broker.address(), args, stdin_path);
}

// Runs and parses stdout as one JSON document; REQUIREs exit 0.
json CtlJson(const BrokerProcess& broker, const std::string& args) {
  CommandResult r = Ctl(broker, "--json " + args);
  REQUIRE(r.exit_code == 0);
  return json::parse(r.out);
}

// One JSON object per line (consume/tail --format json).
std::vector<json> JsonLines(const std::string& out) {
  std::vector<json> lines;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(json::parse(line));
  }
  return lines;
}

void Publish(herald::Client& c, const std::string& topic, const std::vector<std::string>& payloads) {
  for (const auto& p : payloads) {
    herald::Message m;
    m.payload = p;
    REQUIRE_FALSE(c.PublishSync(topic, std::move(m)).error);
  }
}

}  // namespace

TEST_CASE("e2e: brokerctl status prints the broker's state as JSON", "[e2e][brokerctl]") {
  BrokerProcess broker;
  REQUIRE(Ctl(broker, "topic create orders").exit_code == 0);
  json s = CtlJson(broker, "status");
  CHECK_FALSE(s["broker_version"].get<std::string>().empty());
  CHECK_FALSE(s["data_dir"].get<std::string>().empty());
  CHECK(s["uptime_ms"].get<int64_t>() >= 0);
  CHECK(s["topics"].get<uint32_t>() >= 1);
  CHECK(s["connections"].get<uint32_t>() >= 1);  // brokerctl itself
  CHECK(s.contains("groups"));
  CHECK(s.contains("storage_bytes"));

  CommandResult text = Ctl(broker, "status");
  CHECK(text.exit_code == 0);
  CHECK(text.out.find("uptime:") != std::string::npos);
}

TEST_CASE("e2e: brokerctl topic create with retention, describe and alter", "[e2e][brokerctl]") {
  BrokerProcess broker;
  REQUIRE(Ctl(broker, "topic create orders --retention-age 7d --retention-messages 1000").exit_code == 0);
  REQUIRE(Ctl(broker, "publish orders one").exit_code == 0);
  REQUIRE(Ctl(broker, "publish orders two").exit_code == 0);
  REQUIRE(Ctl(broker, "publish orders three").exit_code == 0);

  json t = CtlJson(broker, "topic describe orders");
  CHECK(t["name"] == "orders");
  CHECK(t["earliest_offset"] == 0);
  CHECK(t["next_offset"] == 3);
  CHECK(t["message_count"] == 3);
  CHECK(t["bytes"].get<uint64_t>() > 0);
  CHECK(t["retention"]["max_age_ms"] == 7 * 86'400'000LL);
  CHECK(t["retention"]["max_bytes"] == 0);  // not given: unlimited
  CHECK(t["retention"]["max_messages"] == 1000);

  // alter replaces only the limits given.
  REQUIRE(Ctl(broker, "topic alter orders --retention-bytes 1MiB").exit_code == 0);
  t = CtlJson(broker, "topic describe orders");
  CHECK(t["retention"]["max_age_ms"] == 7 * 86'400'000LL);
  CHECK(t["retention"]["max_bytes"] == 1 << 20);
  CHECK(t["retention"]["max_messages"] == 1000);
  // 0 removes a limit.
  json altered = CtlJson(broker, "topic alter orders --retention-age 0");
  CHECK(altered["retention"]["max_age_ms"] == 0);
  CHECK(altered["retention"]["max_bytes"] == 1 << 20);

  CommandResult text = Ctl(broker, "topic describe orders");
  CHECK(text.exit_code == 0);
  CHECK(text.out.find("0..2") != std::string::npos);

  // Without flags the broker's default retention applies.
  REQUIRE(Ctl(broker, "topic create plain").exit_code == 0);
  json plain = CtlJson(broker, "topic describe plain");
  CHECK(plain["retention"]["max_age_ms"].get<int64_t>() > 0);
}

TEST_CASE("e2e: brokerctl topic delete asks first and needs --yes in scripts", "[e2e][brokerctl]") {
  BrokerProcess broker;
  REQUIRE(Ctl(broker, "topic create doomed").exit_code == 0);
  REQUIRE(Ctl(broker, "publish doomed x").exit_code == 0);

  CommandResult refused = Ctl(broker, "topic delete doomed");  // stdin is /dev/null
  CHECK(refused.exit_code == 5);
  CHECK(refused.err.find("delete topic doomed with 1 messages?") != std::string::npos);
  CHECK(refused.err.find("--yes") != std::string::npos);
  CHECK(Ctl(broker, "topic describe doomed").exit_code == 0);  // still there

  CHECK(Ctl(broker, "topic delete doomed --yes").exit_code == 0);
  CHECK(Ctl(broker, "topic describe doomed").exit_code == 4);
}

TEST_CASE("e2e: brokerctl group list and describe after a consume", "[e2e][brokerctl]") {
  BrokerProcess broker;
  auto client = Connect(broker);
  REQUIRE_FALSE(client->CreateTopic("events"));
  Publish(*client, "events", {"a", "b", "c", "d", "e"});

  CommandResult consumed = Ctl(broker, "consume events --group billing --count 3 --timeout 10");
  REQUIRE(consumed.exit_code == 0);
  CHECK(consumed.out == "a\nb\nc\n");

  // The acks are fire-and-forget: wait until the broker shows them.
  json g;
  REQUIRE(Eventually([&] {
    g = CtlJson(broker, "group describe events billing");
    return g["position"] == 3;
  }, 10s, 100ms));
  CHECK(g["name"] == "billing");
  CHECK(g["topic"] == "events");
  CHECK(g["members"] == 0);
  CHECK(g["unacked"] == 0);
  CHECK(g["lag"] == 2);
  CHECK(g["oldest_unacked_age_ms"].is_number());
  CHECK(g["dead_lettered"] == 0);
  CHECK(g.contains("skipped"));
  CHECK(g.contains("redeliveries"));
  CHECK(g["max_deliveries"].get<uint32_t>() > 0);  // the broker's default
  CHECK(g["backoff_ms"].is_array());

  json list = CtlJson(broker, "group list events");
  REQUIRE(list.size() == 1);
  CHECK(list[0]["name"] == "billing");
  CHECK(list[0]["position"] == 3);
  CommandResult table = Ctl(broker, "group list events");
  CHECK(table.out.find("billing") != std::string::npos);

  // consume sets the group policy.
  REQUIRE(Ctl(broker, "consume events --group policy --max-deliveries 3 --backoff 1s,5s --count 1 "
                      "--timeout 10").exit_code == 0);
  json p = CtlJson(broker, "group describe events policy");
  CHECK(p["max_deliveries"] == 3);
  CHECK(p["backoff_ms"] == json::array({1000, 5000}));
}

TEST_CASE("e2e: brokerctl group reset replays, refuses while a member is connected, and deletes",
          "[e2e][brokerctl]") {
  BrokerProcess broker;
  auto client = Connect(broker);
  REQUIRE_FALSE(client->CreateTopic("jobs"));
  Publish(*client, "jobs", {"j0", "j1", "j2"});

  REQUIRE(Ctl(broker, "consume jobs --group workers --count 3 --timeout 10").out == "j0\nj1\nj2\n");
  REQUIRE(Eventually([&] { return CtlJson(broker, "group describe jobs workers")["position"] == 3; },
                     10s, 100ms));
  CHECK(Ctl(broker, "consume jobs --group workers --timeout 1").out.empty());  // all acked

  json reset = CtlJson(broker, "group reset jobs workers --to earliest");
  CHECK(reset["position"] == 0);
  CHECK(Ctl(broker, "consume jobs --group workers --count 3 --timeout 10").out == "j0\nj1\nj2\n");

  // --from places a new group; an existing one keeps its position.
  CHECK(Ctl(broker, "consume jobs --group late --from 1 --count 2 --timeout 10").out == "j1\nj2\n");
  CHECK(Ctl(broker, "consume jobs --group late --from 0 --timeout 1").out.empty());

  // An offset, then a timestamp before every message.
  CHECK(CtlJson(broker, "group reset jobs workers --to 2")["position"] == 2);
  CHECK(Ctl(broker, "consume jobs --group workers --count 1 --timeout 10").out == "j2\n");
  CHECK(CtlJson(broker, "group reset jobs workers --to 2001-01-01T00:00:00Z")["position"] == 0);

  // A member is connected: reset and delete refuse.
  herald::SubscriptionId member = 0;
  REQUIRE_FALSE(client->Subscribe({.topic = "jobs", .group = "workers"}, [](const herald::Delivery&) {},
                                  &member));
  CommandResult busy = Ctl(broker, "group reset jobs workers --to earliest");
  CHECK(busy.exit_code == 6);
  CHECK(busy.err.find("group 'workers' has 1 member") != std::string::npos);
  CHECK(busy.err.find("stop them first") != std::string::npos);
  CHECK(Ctl(broker, "group delete jobs workers").exit_code == 6);

  REQUIRE_FALSE(client->Unsubscribe(member));
  REQUIRE(Eventually([&] { return CtlJson(broker, "group describe jobs workers")["members"] == 0; },
                     10s, 100ms));
  CHECK(Ctl(broker, "group delete jobs workers").exit_code == 0);
  CHECK(Ctl(broker, "group describe jobs workers").exit_code == 4);
}

TEST_CASE("e2e: brokerctl exit codes for unknown names and malformed values", "[e2e][brokerctl]") {
  BrokerProcess broker;
  REQUIRE(Ctl(broker, "topic create known").exit_code == 0);

  CommandResult topic = Ctl(broker, "topic describe nope");
  CHECK(topic.exit_code == 4);
  CHECK(topic.err.find("topic 'nope' not found") != std::string::npos);
  CommandResult group = Ctl(broker, "group describe known nobody");
  CHECK(group.exit_code == 4);
  CHECK(group.err.find("group 'nobody' not found") != std::string::npos);
  CHECK(Ctl(broker, "group describe nope nobody").exit_code == 4);
  CHECK(Ctl(broker, "group list nope").exit_code == 4);
  CHECK(Ctl(broker, "group reset known nobody --to earliest").exit_code == 4);
  CHECK(Ctl(broker, "group delete known nobody").exit_code == 4);
  CHECK(Ctl(broker, "topic alter nope --retention-age 1d").exit_code == 4);
  CHECK(Ctl(broker, "consume nope").exit_code == 4);
  CHECK(Ctl(broker, "tail nope --timeout 1").exit_code == 4);

  // Malformed values are invalid arguments (5), checked before the broker is asked.
  CommandResult age = Ctl(broker, "topic create fresh --retention-age 5x");
  CHECK(age.exit_code == 5);
  CHECK(age.err.find("--retention-age") != std::string::npos);
  CHECK(Ctl(broker, "topic describe fresh").exit_code == 4);  // nothing was created
  CHECK(Ctl(broker, "topic alter known --retention-bytes 12XB").exit_code == 5);
  CHECK(Ctl(broker, "topic alter known --retention-messages many").exit_code == 5);
  CHECK(Ctl(broker, "group reset known g --to yesterday").exit_code == 5);
  CHECK(Ctl(broker, "consume known --from 2026-13-45T99:00:00Z").exit_code == 5);
  CHECK(Ctl(broker, "consume known --group g --backoff 1s,soon").exit_code == 5);
  CHECK(Ctl(broker, "topic create 'bad name'").exit_code == 5);
  // A flag CLI11 itself rejects is a usage error.
  CHECK(Ctl(broker, "consume known --format xml").exit_code == 2);
  CHECK(Ctl(broker, "consume known --no-ack").exit_code == 2);  // needs --group
}

TEST_CASE("e2e: brokerctl publish --file sends the whole file as one message", "[e2e][brokerctl]") {
  BrokerProcess broker;
  TempDir dir;
  REQUIRE(Ctl(broker, "topic create blobs").exit_code == 0);
  const std::string content("line 1\nline 2\n\0\xff", 16);
  WriteFile(dir / "blob.bin", content);

  json published = CtlJson(broker, "publish blobs --file " + (dir / "blob.bin"));
  CHECK(published["published"] == 1);
  CHECK(published["first_offset"] == 0);

  CommandResult hex = Ctl(broker, "consume blobs --format hex");
  CHECK(hex.exit_code == 0);
  CHECK(hex.out == "6c696e6520310a6c696e6520320a00ff\n");

  // Not UTF-8: the JSON form carries the payload as base64.
  auto lines = JsonLines(Ctl(broker, "consume blobs --format json").out);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0]["payload_base64"] == "bGluZSAxCmxpbmUgMgoA/w==");
  CHECK_FALSE(lines[0].contains("payload"));

  CHECK(Ctl(broker, "publish blobs --file " + (dir / "missing")).exit_code == 5);
}

TEST_CASE("e2e: brokerctl consume without a group reads history and moves no group",
          "[e2e][brokerctl]") {
  BrokerProcess broker;
  TempDir dir;
  REQUIRE(Ctl(broker, "topic create history").exit_code == 0);
  WriteFile(dir / "lines", "m0\nm1\nm2\nm3\nm4\n");
  REQUIRE(Ctl(broker, "publish history --key k1 --header source=test", dir / "lines").exit_code == 0);

  CommandResult r = Ctl(broker, "consume history --from 2 --format json");
  REQUIRE(r.exit_code == 0);
  auto lines = JsonLines(r.out);
  REQUIRE(lines.size() == 3);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    CHECK(lines[i]["topic"] == "history");
    CHECK(lines[i]["offset"] == 2 + i);
    CHECK(lines[i]["payload"] == "m" + std::to_string(2 + i));
    CHECK(lines[i]["key"] == "k1");
    CHECK(lines[i]["headers"]["source"] == "test");
    CHECK(lines[i]["delivery_count"] == 0);
    std::string ts = lines[i]["timestamp"];
    CHECK(ts.size() == 24);  // 2026-11-25T10:00:00.000Z
    CHECK(ts.back() == 'Z');
  }
  CHECK(Ctl(broker, "consume history --from earliest --count 2").out == "m0\nm1\n");
  CHECK(Ctl(broker, "consume history --from latest").out.empty());
  CHECK(Ctl(broker, "consume history --from 2001-01-01T00:00:00Z --count 1").out == "m0\n");

  json t = CtlJson(broker, "topic describe history");
  CHECK(t["groups"].empty());
}

TEST_CASE("e2e: brokerctl consume --no-ack leaves the messages with the group", "[e2e][brokerctl]") {
  BrokerProcess broker;
  auto client = Connect(broker);
  REQUIRE_FALSE(client->CreateTopic("peek"));
  Publish(*client, "peek", {"p0", "p1"});

  CHECK(Ctl(broker, "consume peek --group g --no-ack --count 2 --timeout 10").out == "p0\np1\n");
  auto again = JsonLines(Ctl(broker, "consume peek --group g --count 2 --timeout 10 --format json").out);
  REQUIRE(again.size() == 2);
  CHECK(again[0]["payload"] == "p0");
  CHECK(again[0]["group"] == "g");
  CHECK(again[0]["delivery_count"].get<uint32_t>() >= 2);
}

TEST_CASE("e2e: brokerctl tail follows new messages without a group", "[e2e][brokerctl]") {
  BrokerProcess broker;
  auto client = Connect(broker);
  REQUIRE_FALSE(client->CreateTopic("live"));
  Publish(*client, "live", {"old"});

  // A quiet topic: tail ends after its idle timeout, printing nothing old.
  CommandResult quiet = Ctl(broker, "tail live --timeout 1");
  CHECK(quiet.exit_code == 0);
  CHECK(quiet.out.empty());

  // Publish in the background until tail has printed two messages.
  std::atomic<bool> stop{false};
  std::thread producer([&] {
    for (int i = 0; i < 300 && !stop; ++i) {
      herald::Message m;
      m.payload = "new" + std::to_string(i);
      client->PublishSync("live", std::move(m));
      std::this_thread::sleep_for(50ms);
    }
  });
  CommandResult tail = Ctl(broker, "tail live --count 2 --timeout 10");
  stop = true;
  producer.join();
  CHECK(tail.exit_code == 0);
  std::istringstream lines(tail.out);
  std::string a, b;
  std::getline(lines, a);
  std::getline(lines, b);
  REQUIRE(a.rfind("new", 0) == 0);
  REQUIRE(b.rfind("new", 0) == 0);
  CHECK(std::stoi(b.substr(3)) == std::stoi(a.substr(3)) + 1);

  CHECK(Ctl(broker, "tail live --from earliest --count 1").out == "old\n");
  CHECK(CtlJson(broker, "topic describe live")["groups"].empty());
}

TEST_CASE("e2e: brokerctl dlq replay republishes a group's dead letters once, and purge",
          "[e2e][brokerctl]") {
  BrokerProcess broker;
  auto client = Connect(broker);
  REQUIRE_FALSE(client->CreateTopic("payments"));
  herald::Message m;
  m.key = "acct-1";
  m.headers = {{"trace", "t1"}};
  m.payload = "charge";
  REQUIRE_FALSE(client->PublishSync("payments", m).error);

  // One delivery allowed, then a nack: the message goes to payments.dlq.
  herald::SubscriptionId sid = 0;
  REQUIRE_FALSE(client->Subscribe({.topic = "payments", .group = "billing", .max_deliveries = 1},
                                  [](const herald::Delivery& d) { d.nack(0ms, "card declined"); }, &sid));
  REQUIRE(Eventually([&] {
    herald::TopicInfo dlq;
    return !client->DescribeTopic("payments.dlq", &dlq) && dlq.message_count == 1;
  }, 10s, 50ms));
  REQUIRE_FALSE(client->Unsubscribe(sid));
  CHECK(CtlJson(broker, "group describe payments billing")["dead_lettered"] == 1);

  json replay = CtlJson(broker, "dlq replay payments billing --timeout 10");
  CHECK(replay["replayed"] == 1);
  CHECK(replay["skipped"] == 0);
  auto republished = JsonLines(Ctl(broker, "consume payments --from 1 --format json").out);
  REQUIRE(republished.size() == 1);
  CHECK(republished[0]["payload"] == "charge");
  CHECK(republished[0]["key"] == "acct-1");
  CHECK(republished[0]["headers"] == json{{"trace", "t1"}});  // no x-herald-dlq-* left

  // The tracking group remembers: nothing is replayed twice.
  CHECK(CtlJson(broker, "dlq replay payments billing --timeout 10")["replayed"] == 0);
  CHECK(CtlJson(broker, "dlq replay payments other --timeout 10")["replayed"] == 0);

  CHECK(Ctl(broker, "dlq purge payments").exit_code == 5);  // no --yes, no terminal
  CHECK(Ctl(broker, "dlq purge payments --yes").exit_code == 0);
  CHECK(CtlJson(broker, "topic describe payments.dlq")["message_count"] == 0);
}
