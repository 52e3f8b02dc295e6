// The comment-count flow as real processes: brokerd, post-service,
// comment-service, notification-service and api-gateway. Comments are added
// and removed from two threads while the broker, the comment-service and the
// post-service are killed with SIGKILL and restarted; afterwards every post's
// comment_count must equal the number of its comments.

#include <atomic>
#include <map>
#include <random>
#include <thread>

#include <catch2/catch.hpp>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "tests/support/server_process.h"

using namespace std::chrono_literals;
using herald::test::BrokerProcess;
using herald::test::Eventually;
using herald::test::ServerProcess;
using nlohmann::json;

namespace {

struct Flow {
  BrokerProcess broker;
  ServerProcess posts{HERALD_POST_SERVICE_PATH, {"--data-dir", "{dir}/data", "--broker", broker.address()}};
  ServerProcess comments{HERALD_COMMENT_SERVICE_PATH,
                         {"--data-dir", "{dir}/data", "--broker", broker.address(), "--post-service", posts.address()}};
  ServerProcess notifications{HERALD_NOTIFICATION_SERVICE_PATH,
                              {"--data-dir", "{dir}/data", "--broker", broker.address()}};
  ServerProcess gateway{HERALD_API_GATEWAY_PATH,
                        {"--comment-service", comments.address(), "--post-service", posts.address(),
                         "--notification-service", notifications.address()}};
};

httplib::Result Call(const std::string& address, const std::string& method, const std::string& path,
                     const std::string& body = "") {
  httplib::Client c(address.c_str());
  c.set_connection_timeout(2);
  c.set_read_timeout(5);
  if (method == "POST") return c.Post(path.c_str(), body, "application/json");
  if (method == "DELETE") return c.Delete(path.c_str());
  return c.Get(path.c_str());
}

json GetJson(const std::string& address, const std::string& path) {
  auto r = Call(address, "GET", path);
  if (!r || r->status != 200) return nullptr;
  return json::parse(r->body, nullptr, false);
}

}  // namespace

TEST_CASE("flow: counts stay exact while broker and services are killed and restarted", "[e2e][flow]") {
  Flow flow;
  std::vector<std::string> post_ids;
  for (int i = 0; i < 3; ++i) {
    auto r = Call(flow.gateway.address(), "POST", "/api/posts",
                  json{{"author", "alice"}, {"title", "post " + std::to_string(i)}}.dump());
    REQUIRE(r);
    REQUIRE(r->status == 201);
    post_ids.push_back(json::parse(r->body)["id"]);
  }

  // Two writers, bounded in count: add comments, and remove some of the ones they added.
  std::atomic<bool> stop{false};
  std::atomic<int> ok_requests{0};
  auto writer = [&](int seed) {
    std::mt19937 rng(seed);
    std::vector<std::string> mine;
    for (int i = 0; i < 150 && !stop; ++i) {
      if (!mine.empty() && rng() % 3 == 0) {
        std::size_t k = rng() % mine.size();
        auto r = Call(flow.gateway.address(), "DELETE", "/api/comments/" + mine[k]);
        if (r && (r->status == 200 || r->status == 404)) {
          mine.erase(mine.begin() + static_cast<std::ptrdiff_t>(k));
          ++ok_requests;
        }
      } else {
        json body = {{"post_id", post_ids[rng() % post_ids.size()]}, {"author", "bob"}, {"text", "hi"}};
        auto r = Call(flow.gateway.address(), "POST", "/api/comments", body.dump());
        if (r && r->status == 201) {
          mine.push_back(json::parse(r->body)["id"]);
          ++ok_requests;
        }
      }
      std::this_thread::sleep_for(2ms);
    }
  };
  std::thread w1(writer, 1), w2(writer, 2);
  // Faults while the writers run.
  std::this_thread::sleep_for(200ms);
  flow.broker.Kill();
  std::this_thread::sleep_for(100ms);
  flow.broker.Restart();
  std::this_thread::sleep_for(200ms);
  flow.posts.Kill();
  std::this_thread::sleep_for(100ms);
  flow.posts.Restart();
  std::this_thread::sleep_for(200ms);
  flow.comments.Kill();
  std::this_thread::sleep_for(100ms);
  flow.comments.Restart();
  w1.join();
  w2.join();
  CHECK(ok_requests > 100);

  // The truth is what the comment-service holds; the counts must converge to it.
  auto converged = [&] {
    json posts = GetJson(flow.gateway.address(), "/api/posts");
    if (!posts.is_array() || posts.size() != post_ids.size()) return false;
    for (const auto& p : posts) {
      json list = GetJson(flow.comments.address(), "/comments?post_id=" + p["id"].get<std::string>());
      if (!list.is_array() || p["comment_count"] != list.size()) return false;
    }
    return true;
  };
  bool ok = Eventually(converged, 60s, 100ms);
  if (!ok) {
    WARN("posts: " << GetJson(flow.gateway.address(), "/api/posts").dump() << "\npost-service log:\n"
                   << flow.posts.LogTail() << "\ncomment-service log:\n" << flow.comments.LogTail());
  }
  REQUIRE(ok);
  // The outbox drained, and the notification-service heard of the comments too.
  CHECK(GetJson(flow.comments.address(), "/outbox")["pending"] == 0);
  json notes = GetJson(flow.gateway.address(), "/api/notifications?user=alice");
  REQUIRE(notes.is_array());
  CHECK(notes.size() > 0);
  CHECK(notes[0]["text"].get<std::string>().find("bob commented on your post post ") == 0);
  // The main page shows the cards.
  auto page = Call(flow.gateway.address(), "GET", "/");
  REQUIRE(page);
  CHECK(page->body.find("post 0") != std::string::npos);
}

TEST_CASE("flow: bad requests get 4xx JSON errors and change nothing", "[e2e][flow]") {
  Flow flow;
  auto gw = flow.gateway.address();
  auto r = Call(gw, "POST", "/api/comments", "{not json");
  REQUIRE(r);
  CHECK(r->status == 400);
  CHECK(json::parse(r->body)["error"]["code"] == "bad_json");
  r = Call(gw, "POST", "/api/comments", R"({"post_id":"nope","author":"a","text":"t"})");
  REQUIRE(r);
  CHECK(r->status == 404);
  r = Call(gw, "POST", "/api/posts", R"({"author":"a"})");
  REQUIRE(r);
  CHECK(r->status == 400);
  r = Call(gw, "POST", "/api/comments", std::string(R"({"post_id":"x","author":")") + "\xff\xfe" + R"(","text":"t"})");
  REQUIRE(r);
  CHECK(r->status == 400);
  std::string deep(100, '[');
  r = Call(gw, "POST", "/api/posts", "{\"a\":" + deep + std::string(100, ']') + "}");
  REQUIRE(r);
  CHECK(r->status == 400);
  r = Call(gw, "DELETE", "/api/comments/does-not-exist");
  REQUIRE(r);
  CHECK(r->status == 404);
  CHECK(GetJson(gw, "/api/posts").size() == 0);
}
