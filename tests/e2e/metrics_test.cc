// The /metrics and /healthz endpoint of a real brokerd, scraped over HTTP
// and parsed as Prometheus text.

#include <map>
#include <regex>
#include <sstream>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <catch2/catch.hpp>
#include <httplib.h>

#include "herald/client.h"
#include "tests/support/server_process.h"

using namespace std::chrono_literals;
using herald::test::BrokerProcess;
using herald::test::Eventually;

namespace {

// A port the kernel just handed out and that is free again (loopback only).
uint16_t FreePort() {
  asio::io_context io;
  asio::ip::tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

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
