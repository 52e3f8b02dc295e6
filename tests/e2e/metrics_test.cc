// The /metrics and /healthz endpoint of a real brokerd, scraped over HTTP
// and parsed as Prometheus text.

#include <map>
#include <regex>
#include <sstream>
#include <thread>

#include <catch2/catch.hpp>
#include <httplib.h>

#include "herald/client.h"
#include "tests/support/command.h"
#include "tests/support/free_port.h"
#include "tests/support/server_process.h"

using namespace std::chrono_literals;
using herald::test::BrokerProcess;
using herald::test::Eventually;
using herald::test::FreePort;

namespace {

// "name{labels}" -> value, for every sample line; REQUIREs each line to parse.
std::map<std::string, double> ParseSamples(const std::string& text) {
  static const std::regex kSample(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})?) (\S+)$)");
  std::map<std::string, double> samples;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line.starts_with("# HELP ") || line.starts_with("# TYPE ")) continue;
    std::smatch m;
    INFO(line);
    REQUIRE(std::regex_match(line, m, kSample));
    samples[m[1]] = m[3] == "+Inf" ? INFINITY : std::stod(m[3]);
  }
  return samples;
}

}  // namespace

TEST_CASE("e2e: brokerd serves Prometheus metrics and a health check", "[e2e][metrics]") {
  const uint16_t port = FreePort();
  BrokerProcess broker({"--metrics-listen", "127.0.0.1:" + std::to_string(port)});
  herald::Client c(herald::ClientOptions{.broker = broker.address()});
  REQUIRE_FALSE(c.WaitConnected(10s));
  REQUIRE_FALSE(c.CreateTopic("comment-created"));
  for (int i = 0; i < 20; ++i) {
    REQUIRE_FALSE(c.PublishSync("comment-created", herald::Message{.payload = "m" + std::to_string(i)}).error);
  }
  std::atomic<int> seen{0};
  REQUIRE_FALSE(c.Subscribe({.topic = "comment-created", .group = "post-service"},
                            [&](const herald::Delivery& d) {
                              d.ack();
                              ++seen;
                            }));
  REQUIRE(Eventually([&] { return seen == 20; }, 10s));

  httplib::Client http("127.0.0.1", port);
  http.set_connection_timeout(5);
  http.set_read_timeout(5);
  auto health = http.Get("/healthz");
  REQUIRE(health);
  CHECK(health->status == 200);
  CHECK(health->body == "ok\n");

  std::map<std::string, double> samples;
  INFO(broker.LogTail());
  REQUIRE(Eventually([&] {
    auto res = http.Get("/metrics");
    REQUIRE(res);
    REQUIRE(res->status == 200);
    CHECK(res->get_header_value("Content-Type").starts_with("text/plain"));
    samples = ParseSamples(res->body);
    return samples[R"(herald_group_lag_messages{topic="comment-created",group="post-service"})"] == 0 &&
           samples.count(R"(herald_group_lag_messages{topic="comment-created",group="post-service"})");
  }, 10s, 50ms));
  CHECK(samples[R"(herald_topic_messages_in_total{topic="comment-created"})"] == 20);
  CHECK(samples[R"(herald_topic_messages_out_total{topic="comment-created"})"] == 20);
  CHECK(samples[R"(herald_topic_messages{topic="comment-created"})"] == 20);
  CHECK(samples[R"(herald_topic_bytes{topic="comment-created"})"] > 0);
  CHECK(samples[R"(herald_group_unacked_messages{topic="comment-created",group="post-service"})"] == 0);
  CHECK(samples[R"(herald_group_redeliveries_total{topic="comment-created",group="post-service"})"] == 0);
  CHECK(samples[R"(herald_group_dead_letters_total{topic="comment-created",group="post-service"})"] == 0);
  CHECK(samples["herald_connections"] >= 1);
  CHECK(samples.count("herald_unacked_bytes") == 1);
  CHECK(samples["herald_unacked_bytes"] == 0);  // everything was acked
  CHECK(samples["herald_storage_bytes"] > 0);
  CHECK(samples["herald_memtable_bytes"] > 0);
  CHECK(samples["herald_publish_to_ack_seconds_count"] == 20);
  CHECK(samples[R"(herald_publish_to_ack_seconds_bucket{le="+Inf"})"] == 20);
  CHECK(samples["herald_fsync_seconds_count"] >= 1);  // --fsync always: every publish was synced

  CHECK(http.Get("/nope")->status == 404);
}

namespace {

// Whether `name` is a counter sample: a _total series, or a histogram's
// _count, _sum or _bucket (each of those is monotonic too).
bool IsCounterSample(const std::string& series) {
  std::string name = series.substr(0, series.find('{'));
  return name.ends_with("_total") || name.ends_with("_count") || name.ends_with("_sum") ||
         name.ends_with("_bucket");
}

std::map<std::string, double> Scrape(httplib::Client& http) {
  auto res = http.Get("/metrics");
  REQUIRE(res);
  REQUIRE(res->status == 200);
  return ParseSamples(res->body);
}

}  // namespace

TEST_CASE("e2e: no counter goes down when a group, a topic or a consumer goes", "[e2e][metrics]") {
  const uint16_t port = FreePort();
  BrokerProcess broker({"--metrics-listen", "127.0.0.1:" + std::to_string(port)});
  herald::Client c(herald::ClientOptions{.broker = broker.address()});
  REQUIRE_FALSE(c.WaitConnected(10s));
  REQUIRE_FALSE(c.CreateTopic("orders"));
  REQUIRE_FALSE(c.CreateTopic("scratch"));
  constexpr int kMessages = 30;
  for (int i = 0; i < kMessages; ++i) {
    REQUIRE_FALSE(c.PublishSync("orders", herald::Message{.payload = "o" + std::to_string(i)}).error);
    REQUIRE_FALSE(c.PublishSync("scratch", herald::Message{.payload = "s" + std::to_string(i)}).error);
  }
  // Three groups read orders to its end, one reads scratch; the "billing"
  // consumer runs on a client of its own, so that it can go mid-stream.
  std::atomic<int> seen{0};
  auto ack = [&](const herald::Delivery& d) {
    d.ack();
    ++seen;
  };
  auto consumer = std::make_unique<herald::Client>(herald::ClientOptions{.broker = broker.address()});
  REQUIRE_FALSE(consumer->WaitConnected(10s));
  REQUIRE_FALSE(consumer->Subscribe({.topic = "orders", .group = "billing"}, ack));
  REQUIRE_FALSE(c.Subscribe({.topic = "orders", .group = "shipping"}, ack));
  herald::SubscriptionId audit_orders{};
  REQUIRE_FALSE(c.Subscribe({.topic = "orders", .group = "audit"}, ack, &audit_orders));
  REQUIRE_FALSE(c.Subscribe({.topic = "scratch", .group = "audit"}, ack));
  REQUIRE(Eventually([&] { return seen == 4 * kMessages; }, 15s));

  httplib::Client http("127.0.0.1", port);
  http.set_connection_timeout(5);
  http.set_read_timeout(5);
  auto before = Scrape(http);
  REQUIRE(before[R"(herald_topic_messages_out_total{topic="orders"})"] == 3 * kMessages);

  // The consumer goes mid-stream, then the group it was in, the "audit"
  // group of orders once its member left, and the scratch topic with its group.
  consumer.reset();
  REQUIRE_FALSE(c.Unsubscribe(audit_orders));
  REQUIRE(Eventually([&] { return !c.DeleteGroup("orders", "billing"); }, 10s));
  REQUIRE_FALSE(c.DeleteGroup("orders", "audit"));
  REQUIRE_FALSE(c.DeleteTopic("scratch"));
  auto after = Scrape(http);

  // Every counter present in both scrapes is at least what it was.
  std::size_t compared = 0;
  for (const auto& [series, value] : before) {
    if (!IsCounterSample(series) || !after.count(series)) continue;
    INFO(series << ": " << value << " -> " << after[series]);
    CHECK(after[series] >= value);
    ++compared;
  }
  CHECK(compared > 20);
  // The deleted groups' deliveries still count for their topic.
  CHECK(after[R"(herald_topic_messages_out_total{topic="orders"})"] == 3 * kMessages);
  CHECK(after[R"(herald_topic_bytes_out_total{topic="orders"})"] ==
        before[R"(herald_topic_bytes_out_total{topic="orders"})"]);
  CHECK(after.count(R"(herald_group_lag_messages{topic="orders",group="billing"})") == 0);

  // Requests by type, errors by code and by request type; a refused request counts in all three.
  CHECK(after[R"(herald_requests_total{type="Publish"})"] == 2 * kMessages);
  CHECK(after[R"(herald_requests_total{type="DeleteGroup"})"] >= 2);
  CHECK(after[R"(herald_request_errors_total{code="TopicNotFound"})"] == 0);
  CHECK(c.DeleteTopic("no-such-topic"));
  auto last = Scrape(http);
  CHECK(last[R"(herald_request_errors_total{code="TopicNotFound"})"] == 1);
  CHECK(last[R"(herald_request_failures_total{type="DeleteTopic"})"] ==
        after[R"(herald_request_failures_total{type="DeleteTopic"})"] + 1);
  CHECK(last[R"(herald_request_failures_total{type="Publish"})"] == 0);
  CHECK(last[R"(herald_requests_total{type="DeleteTopic"})"] == after[R"(herald_requests_total{type="DeleteTopic"})"] + 1);
  CHECK(last.count(R"(herald_requests_total{type="PublishOk"})") == 0);  // replies are not requests
}

TEST_CASE("e2e: brokerd exports its build and the standard process metrics", "[e2e][metrics]") {
  const uint16_t port = FreePort();
  BrokerProcess broker({"--metrics-listen", "127.0.0.1:" + std::to_string(port)});
  httplib::Client http("127.0.0.1", port);
  http.set_connection_timeout(5);
  http.set_read_timeout(5);
  auto res = http.Get("/metrics");
  REQUIRE(res);
  auto samples = ParseSamples(res->body);
  // One build_info series, value 1, with the version brokerd --version prints.
  std::regex build(R"re(herald_build_info\{version="([^"]+)",commit="([0-9a-f]{12}|unknown)"\} 1)re");
  std::smatch m;
  REQUIRE(std::regex_search(res->body, m, build));
  auto version = herald::test::RunCommand(std::string(HERALD_BROKERD_PATH) + " --version");
  CHECK(version.out.find(m[1].str()) != std::string::npos);

  // The process metrics agree with what /proc says of the broker's process.
  CHECK(samples["process_resident_memory_bytes"] > 1 << 20);
  CHECK(samples["process_resident_memory_bytes"] <= samples["process_virtual_memory_bytes"]);
  CHECK(samples["process_open_fds"] >= 3);
  CHECK(samples["process_open_fds"] <= samples["process_max_fds"]);
  CHECK(samples["process_cpu_seconds_total"] >= 0);
  const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  CHECK(samples["process_start_time_seconds"] <= now + 1);
  CHECK(samples["process_start_time_seconds"] > now - 600);  // started by this test
  // Another client's connection is one more open descriptor in the broker,
  // once the descriptors storage opens and closes at start (the spare files
  // made ahead of the segment log and the WAL) have settled.
  double fds = samples["process_open_fds"];
  for (int i = 0; i < 50; ++i) {
    std::this_thread::sleep_for(100ms);
    const double again = ParseSamples(http.Get("/metrics")->body)["process_open_fds"];
    if (again == fds) break;
    fds = again;
  }
  herald::Client c(herald::ClientOptions{.broker = broker.address()});
  REQUIRE_FALSE(c.WaitConnected(10s));
  CHECK(ParseSamples(http.Get("/metrics")->body)["process_open_fds"] > fds);
}
