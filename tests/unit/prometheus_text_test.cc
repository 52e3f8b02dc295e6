// The metrics building blocks: Prometheus text exposition, the histogram, and
// the HTTP endpoint served on its own io_context thread to a raw TCP client.

#include "broker/metrics/prometheus_text.h"

#include <atomic>
#include <random>
#include <chrono>
#include <thread>
#include <vector>

#include <asio/connect.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>
#include <catch2/catch.hpp>

#include "broker/metrics/histogram.h"
#include "broker/metrics/http_endpoint.h"
#include "broker/metrics/http_message.h"

using namespace herald::broker::metrics;
using namespace std::chrono_literals;

TEST_CASE("prometheus text: a counter gets HELP and TYPE, then its sample", "[unit][metrics]") {
  PrometheusText out;
  out.Counter("herald_published_total", "Messages published.", 42);
  CHECK(out.Take() ==
        "# HELP herald_published_total Messages published.\n"
        "# TYPE herald_published_total counter\n"
        "herald_published_total 42\n");
}

TEST_CASE("prometheus text: label values are escaped and families stay contiguous", "[unit][metrics]") {
  PrometheusText out;
  out.Gauge("herald_topic_bytes", "Bytes kept, per topic.\nSecond line \\ here.", 10, {{"topic", "a\\b\"c\nd"}});
  out.Counter("herald_errors_total", "Errors.", 1);
  out.Gauge("herald_topic_bytes", "ignored: the first HELP wins", 2.5, {{"topic", "plain"}, {"kind", "x"}});
  CHECK(out.Take() ==
        "# HELP herald_topic_bytes Bytes kept, per topic.\\nSecond line \\\\ here.\n"
        "# TYPE herald_topic_bytes gauge\n"
        "herald_topic_bytes{topic=\"a\\\\b\\\"c\\nd\"} 10\n"
        "herald_topic_bytes{topic=\"plain\",kind=\"x\"} 2.5\n"
        "# HELP herald_errors_total Errors.\n"
        "# TYPE herald_errors_total counter\n"
        "herald_errors_total 1\n");
  CHECK(out.Take().empty());
}

TEST_CASE("prometheus text: special sample values", "[unit][metrics]") {
  CHECK(FormatSampleValue(std::numeric_limits<double>::infinity()) == "+Inf");
  CHECK(FormatSampleValue(-std::numeric_limits<double>::infinity()) == "-Inf");
  CHECK(FormatSampleValue(std::nan("")) == "NaN");
  CHECK(FormatSampleValue(1e6) == "1000000");
  CHECK(FormatSampleValue(0.25) == "0.25");
}

TEST_CASE("prometheus text: a histogram has cumulative buckets, +Inf, _sum and _count", "[unit][metrics]") {
  HistogramSnapshot s;
  s.upper_bounds = {0.001, 0.01, 0.1};
  s.counts = {2, 0, 3, 1};  // the last one is above 0.1
  s.count = 6;
  s.sum = 0.5;
  PrometheusText out;
  out.Histogram("herald_publish_seconds", "Publish latency.", s, {{"topic", "t"}});
  CHECK(out.Take() ==
        "# HELP herald_publish_seconds Publish latency.\n"
        "# TYPE herald_publish_seconds histogram\n"
        "herald_publish_seconds_bucket{topic=\"t\",le=\"0.001\"} 2\n"
        "herald_publish_seconds_bucket{topic=\"t\",le=\"0.01\"} 2\n"
        "herald_publish_seconds_bucket{topic=\"t\",le=\"0.1\"} 5\n"
        "herald_publish_seconds_bucket{topic=\"t\",le=\"+Inf\"} 6\n"
        "herald_publish_seconds_sum{topic=\"t\"} 0.5\n"
        "herald_publish_seconds_count{topic=\"t\"} 6\n");
}

TEST_CASE("histogram: observations land in the first bucket whose bound is not below them", "[unit][metrics]") {
  Histogram h;
  h.Observe(0.00005);  // exactly the first bound: "le" includes it
  h.Observe(0.0003);   // 500µs bucket
  h.Observe(20.0);     // above 10s: +Inf only
  h.Observe(-1);       // counts as 0
  auto s = h.Snapshot();
  REQUIRE(s.counts.size() == s.upper_bounds.size() + 1);
  CHECK(s.counts[0] == 2);
  CHECK(s.counts[3] == 1);
  CHECK(s.counts.back() == 1);
  CHECK(s.count == 4);
  CHECK(s.sum == Approx(20.00035));
}

TEST_CASE("histogram: concurrent observers lose nothing", "[unit][metrics]") {
  Histogram h;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&h] {
      for (int i = 0; i < 10'000; ++i) h.Observe(0.002);
    });
  for (auto& t : threads) t.join();
  auto s = h.Snapshot();
  CHECK(s.count == 40'000);
  CHECK(s.counts[5] == 40'000);  // 2.5ms bucket
  CHECK(s.sum == Approx(80.0));
}

TEST_CASE("http message: request heads that parse and ones that do not", "[unit][metrics]") {
  auto ok = ParseRequestHead("GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n");
  REQUIRE(ok);
  CHECK(ok->method == "GET");
  CHECK(ok->path == "/metrics");
  CHECK(ParseRequestHead("GET / HTTP/1.0\r\n\r\n"));
  CHECK_FALSE(ParseRequestHead("\r\n\r\n"));
  CHECK_FALSE(ParseRequestHead("hello\r\n\r\n"));
  CHECK_FALSE(ParseRequestHead("GET /metrics HTTP/2.0\r\n\r\n"));
  CHECK_FALSE(ParseRequestHead("GET metrics HTTP/1.1\r\n\r\n"));
  CHECK_FALSE(ParseRequestHead("GET /metrics HTTP/1.1\r\nHost : a\r\n\r\n"));
  CHECK_FALSE(ParseRequestHead("GET /metrics HTTP/1.1\r\n folded\r\n\r\n"));
  CHECK_FALSE(ParseRequestHead("GET /metrics HTTP/1.1\nHost: a\r\n\r\n"));
  CHECK_FALSE(ParseRequestHead(std::string("GET /a\0b HTTP/1.1\r\n\r\n", 22)));
}

namespace {

// The endpoint on an io_context thread of its own, as on the broker's I/O thread.
class EndpointThread {
 public:
  explicit EndpointThread(MetricsEndpointOptions options = {}) : endpoint_(io_, options) {
    REQUIRE(endpoint_.Bind("127.0.0.1:0").ok());
    REQUIRE(endpoint_.port() > 0);
    endpoint_.Start([] { return std::string("herald_up 1\n"); }, [this] { return healthy.load(); });
    thread_ = std::thread([this] { io_.run(); });
  }
  ~EndpointThread() {
    asio::post(io_, [this] { endpoint_.Stop(); });
    thread_.join();  // run() returns once the stopped endpoint has no work left
  }
  uint16_t port() const { return endpoint_.port(); }
  std::atomic<bool> healthy{true};

 private:
  asio::io_context io_;
  MetricsEndpoint endpoint_;
  std::thread thread_;
};

class RawClient {
 public:
  explicit RawClient(uint16_t port) : socket_(io_) {
    socket_.connect({asio::ip::make_address("127.0.0.1"), port});
  }
  void Send(std::string_view bytes) {
    asio::error_code ec;  // the server may have answered and closed already
    asio::write(socket_, asio::buffer(bytes), ec);
  }
  void ShutdownSend() {
    asio::error_code ec;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ec);
  }
  // Everything until the server closes (the endpoint bounds that by its timeout).
  std::string ReadAll() {
    std::string out;
    asio::error_code ec;
    asio::read(socket_, asio::dynamic_buffer(out), ec);
    return out;
  }

 private:
  asio::io_context io_;
  asio::ip::tcp::socket socket_;
};

struct Reply {
  int status = 0;
  std::string head;
  std::string body;
};

Reply Exchange(uint16_t port, std::string_view request) {
  RawClient client(port);
  client.Send(request);
  std::string all = client.ReadAll();
  Reply r;
  auto blank = all.find("\r\n\r\n");
  if (all.rfind("HTTP/1.1 ", 0) != 0 || blank == std::string::npos) return r;
  r.status = std::stoi(all.substr(9, 3));
  r.head = all.substr(0, blank);
  r.body = all.substr(blank + 4);
  return r;
}

}  // namespace

TEST_CASE("metrics endpoint: serves /metrics and /healthz and rejects the rest", "[unit][metrics]") {
  EndpointThread server;

  auto metrics = Exchange(server.port(), "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(metrics.status == 200);
  CHECK(metrics.head.find("Content-Type: text/plain; version=0.0.4") != std::string::npos);
  CHECK(metrics.head.find("Content-Length: 12") != std::string::npos);
  CHECK(metrics.body == "herald_up 1\n");

  auto health = Exchange(server.port(), "GET /healthz HTTP/1.1\r\n\r\n");
  CHECK(health.status == 200);
  CHECK(health.body == "ok\n");
  server.healthy = false;
  CHECK(Exchange(server.port(), "GET /healthz HTTP/1.1\r\n\r\n").status == 503);

  CHECK(Exchange(server.port(), "GET /nope HTTP/1.1\r\n\r\n").status == 404);
  auto post = Exchange(server.port(), "POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
  CHECK(post.status == 405);
  CHECK(post.head.find("Allow: GET") != std::string::npos);
  CHECK(Exchange(server.port(), "\x16\x03\x01 garbage\r\n\r\n").status == 400);
  CHECK(Exchange(server.port(), std::string("GET /\0 HTTP/1.1\r\n\r\n", 19)).status == 400);
}

TEST_CASE("metrics endpoint: a head that ends early is a 400", "[unit][metrics]") {
  EndpointThread server;
  RawClient client(server.port());
  client.Send("GET /metr");
  client.ShutdownSend();  // the server sees EOF in the middle of the head
  auto all = client.ReadAll();
  CHECK(all.rfind("HTTP/1.1 400 ", 0) == 0);
}

TEST_CASE("metrics endpoint: a head above 8 KiB gets 431 and the connection closes", "[unit][metrics]") {
  EndpointThread server;
  std::string request = "GET /metrics HTTP/1.1\r\nX-Padding: " + std::string(9000, 'a') + "\r\n\r\n";
  auto reply = Exchange(server.port(), request);
  CHECK(reply.status == 431);
  // Just under the limit is still served.
  std::string fits = "GET /metrics HTTP/1.1\r\nX-Padding: " + std::string(8000, 'a') + "\r\n\r\n";
  CHECK(Exchange(server.port(), fits).status == 200);
}

TEST_CASE("metrics endpoint: silent clients are closed after the timeout and cannot exhaust it",
          "[unit][metrics]") {
  EndpointThread server({.connection_timeout = 300ms, .max_connections = 2});
  auto start = std::chrono::steady_clock::now();
  RawClient silent1(server.port());
  RawClient silent2(server.port());
  RawClient surplus(server.port());
  CHECK(surplus.ReadAll().empty());  // above the limit: closed without a reply
  CHECK(silent1.ReadAll().empty());  // closed by the deadline
  CHECK(silent2.ReadAll().empty());
  CHECK(std::chrono::steady_clock::now() - start < 5s);
  CHECK(Exchange(server.port(), "GET /metrics HTTP/1.1\r\n\r\n").status == 200);
}

TEST_CASE("metrics endpoint: random bytes get an error reply and never stop it", "[unit][metrics]") {
  std::mt19937 rng(42);
  auto random_bytes = [&](std::size_t n) {
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(rng() & 0xff);
    return s;
  };
  for (int i = 0; i < 2000; ++i) {  // the parser alone, with and without a head end
    std::string head = random_bytes(rng() % 64);
    if (i % 2) head = "GET /" + head + "\r\n\r\n";
    (void)ParseRequestHead(head);
  }
  EndpointThread server;
  for (int i = 0; i < 50; ++i) {
    RawClient client(server.port());
    client.Send(random_bytes(1 + rng() % 2000) + (i % 2 ? "\r\n\r\n" : ""));
    client.ShutdownSend();
    auto reply = client.ReadAll();
    INFO("round " << i);
    CHECK((reply.rfind("HTTP/1.1 400 ", 0) == 0 || reply.rfind("HTTP/1.1 431 ", 0) == 0));
  }
  CHECK(Exchange(server.port(), "GET /metrics HTTP/1.1\r\n\r\n").status == 200);
}
