// The services' HTTP server against hostile clients, as real processes on
// loopback: slow senders (slowloris) must neither stop a service nor keep
// their connections; a request framed two ways (Transfer-Encoding and
// Content-Length) is refused and stores nothing; an oversized Content-Length
// is answered before its body is sent; every reply carries the security
// headers, and the gateway's page still loads under its policy.

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "tests/support/blog_flow.h"
#include "tests/support/raw_http.h"
#include "tests/support/server_process.h"

using namespace std::chrono_literals;
using herald::test::Call;
using herald::test::Eventually;
using herald::test::RawHttp;
using herald::test::ServerProcess;
using nlohmann::json;

namespace {

// A service whose broker is away: HTTP serves anyway (the set-up retries in
// the background), which is all these tests need.
const std::vector<std::string> kNoBroker = {"--data-dir", "{dir}/data", "--broker", "127.0.0.1:1"};

std::vector<std::string> With(std::vector<std::string> args, std::initializer_list<std::string> more) {
  args.insert(args.end(), more);
  return args;
}

std::string Chunked(const std::string& body) {
  char size[32];
  std::snprintf(size, sizeof size, "%zx", body.size());
  return std::string(size) + "\r\n" + body + "\r\n0\r\n\r\n";
}

}  // namespace

TEST_CASE("http: slow clients neither stop a service nor keep their connections", "[e2e][http]") {
  ServerProcess comments(HERALD_COMMENT_SERVICE_PATH,
                         With(kNoBroker, {"--http-header-timeout-ms", "1000", "--http-body-timeout-ms", "1000"}));
  // Twice httplib's old fixed pool of 8 threads: half stall in their headers,
  // half in a body that never completes.
  constexpr int kSlow = 16;
  std::vector<std::unique_ptr<RawHttp>> slow;
  for (int i = 0; i < kSlow; ++i) {
    slow.push_back(std::make_unique<RawHttp>(comments.port()));
    REQUIRE(slow.back()->connected());
    REQUIRE(slow.back()->Send(i % 2 == 0 ? "GET /healthz HTTP/1.1\r\nHost: x\r\n"
                                         : "POST /posts/p1/comments HTTP/1.1\r\nHost: x\r\n"
                                           "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"));
  }
  // Each keeps sending a byte every 100 ms (far inside any per-read timeout)
  // until the server closes it; bounded at 15 s. A jthread: a failed REQUIRE
  // below stops and joins it.
  std::atomic<int> closed{0};
  std::jthread trickle([&](std::stop_token stop) {
    std::vector<bool> done(kSlow, false);
    auto until = std::chrono::steady_clock::now() + 15s;
    while (!stop.stop_requested() && closed < kSlow && std::chrono::steady_clock::now() < until) {
      for (int i = 0; i < kSlow; ++i) {
        if (done[i]) continue;
        if (slow[i]->ClosedByServer(0ms) || !slow[i]->Send(i % 2 == 0 ? "X" : " ")) {
          done[i] = true;
          ++closed;
        }
      }
      std::this_thread::sleep_for(100ms);
    }
  });

  // A normal request is served within its client's timeouts (1 s to connect, 3 s to read).
  for (int i = 0; i < 3; ++i) {
    auto r = Call(comments.address(), "GET", "/healthz");
    CHECK(r);
    if (r) CHECK(r->status == 200);
  }
  // And the server closes every slow connection, however steadily it sends.
  CHECK(Eventually([&] { return closed == kSlow; }, 12s, 50ms));
  trickle.request_stop();
  trickle.join();
  // Still serving afterwards.
  auto r = Call(comments.address(), "GET", "/healthz");
  REQUIRE(r);
  CHECK(r->status == 200);
}

TEST_CASE("http: a body framed by Transfer-Encoding is refused and nothing is stored", "[e2e][http]") {
  ServerProcess posts(HERALD_POST_SERVICE_PATH, kNoBroker);
  const std::string post = json{{"author", "mallory"}, {"title", "smuggled"}, {"content", "x"}}.dump();

  SECTION("with Content-Length too: 400, and the connection closes") {
    RawHttp c(posts.port());
    REQUIRE(c.Send("POST /posts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 3\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n" +
                   Chunked(post)));
    auto r = c.ReadResponse(5s);
    REQUIRE(r);
    CHECK(r->status == 400);
    CHECK(json::parse(r->body, nullptr, false).value("code", "") == "bad_framing");
    CHECK(r->header("connection") == "close");
    CHECK(c.ClosedByServer(5s));
  }
  SECTION("alone: 411") {
    RawHttp c(posts.port());
    REQUIRE(c.Send("POST /posts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n" +
                   Chunked(post)));
    auto r = c.ReadResponse(5s);
    REQUIRE(r);
    CHECK(r->status == 411);
    CHECK(json::parse(r->body, nullptr, false).value("code", "") == "length_required");
  }
  auto list = Call(posts.address(), "GET", "/posts");
  REQUIRE(list);
  CHECK(list->status == 200);
  CHECK(json::parse(list->body) == json::array());
}

TEST_CASE("http: an oversized Content-Length is answered 413 before the body is sent", "[e2e][http]") {
  // A body timeout of two minutes: a service that waited for the body would
  // answer long after the 20 s this test waits, whatever the machine's load.
  ServerProcess posts(HERALD_POST_SERVICE_PATH, With(kNoBroker, {"--http-body-timeout-ms", "120000"}));
  const std::string headers = "POST /posts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                              "Content-Length: 10000000\r\n";
  // Without and with "Expect: 100-continue" (which must not get its 100).
  for (std::string expect : {"", "Expect: 100-continue\r\n"}) {
    RawHttp c(posts.port());
    REQUIRE(c.Send(headers + expect + "\r\n"));
    // Not a byte of the body is sent: the answer comes without it.
    auto r = c.ReadResponse(20s);
    REQUIRE(r);
    CHECK(r->status == 413);
    CHECK(json::parse(r->body, nullptr, false).value("code", "") == "body_too_large");
    CHECK(r->header("connection") == "close");
  }
}

TEST_CASE("http: headers above the limit get 431, and a request without Content-Length has no body", "[e2e][http]") {
  ServerProcess posts(HERALD_POST_SERVICE_PATH, kNoBroker);
  {
    RawHttp c(posts.port());
    std::string request = "GET /posts HTTP/1.1\r\nHost: x\r\n";
    for (int i = 0; i < 40; ++i) request += "X-Pad-" + std::to_string(i) + ": " + std::string(1000, 'a') + "\r\n";
    REQUIRE(c.Send(request + "\r\n"));
    auto r = c.ReadResponse(5s);
    REQUIRE(r);
    CHECK(r->status == 431);
    CHECK(json::parse(r->body, nullptr, false).value("code", "") == "headers_too_large");
  }
  // A DELETE without Content-Length is answered at once, and the next request
  // on the same connection is served.
  RawHttp c(posts.port());
  REQUIRE(c.Send("DELETE /posts/x HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto first = c.ReadResponse(5s);
  REQUIRE(first);
  CHECK(first->status == 404);
  auto second = c.ReadResponse(5s);
  REQUIRE(second);
  CHECK(second->status == 200);
}

TEST_CASE("http: replies carry the security headers and the gateway's page loads under its policy", "[e2e][http]") {
  ServerProcess gateway(HERALD_API_GATEWAY_PATH, {"--comment-service", "127.0.0.1:1", "--post-service", "127.0.0.1:1",
                                                  "--notification-service", "127.0.0.1:1"});
  httplib::Client http(gateway.address().c_str());
  http.set_connection_timeout(1);
  http.set_read_timeout(3);
  auto check_headers = [](const httplib::Result& r) {
    REQUIRE(r);
    CHECK(r->get_header_value("X-Content-Type-Options") == "nosniff");
    CHECK(r->get_header_value("X-Frame-Options") == "DENY");
    CHECK(r->get_header_value("Referrer-Policy") == "no-referrer");
    CHECK(r->get_header_value_count("Content-Security-Policy") == 1);
    std::string csp = r->get_header_value("Content-Security-Policy");
    CHECK(csp.find("frame-ancestors 'none'") != std::string::npos);
    CHECK(csp.find("script-src 'self'") != std::string::npos);
    CHECK(csp.find("style-src 'self'") != std::string::npos);
    CHECK(csp.find("connect-src 'self'") != std::string::npos);
  };

  auto page = http.Get("/");
  check_headers(page);
  CHECK(page->status == 200);
  // The policy allows no inline script or style: the page loads both from the gateway.
  CHECK(page->body.find("<script src=\"/main.js\"></script>") != std::string::npos);
  CHECK(page->body.find("<script>") == std::string::npos);
  CHECK(page->body.find("<style") == std::string::npos);
  CHECK(page->body.find("<link rel=\"stylesheet\" href=\"/main.css\">") != std::string::npos);
  auto script = http.Get("/main.js");
  check_headers(script);
  CHECK(script->status == 200);
  CHECK(script->get_header_value("Content-Type").rfind("text/javascript", 0) == 0);
  CHECK(script->body.find("new EventSource(") != std::string::npos);
  auto style = http.Get("/main.css");
  check_headers(style);
  CHECK(style->status == 200);
  CHECK(style->get_header_value("Content-Type").rfind("text/css", 0) == 0);

  // Errors too: an upstream that is down, and an unknown route.
  auto down = http.Get("/api/posts");
  check_headers(down);
  CHECK(down->status == 502);
  auto missing = http.Get("/nowhere");
  check_headers(missing);
  CHECK(missing->status == 404);
}
