// The comment-count flow as real processes: brokerd, post-service,
// comment-service, notification-service and api-gateway. Comments are added
// and removed from two threads while the broker, the comment-service and the
// post-service are killed with SIGKILL and restarted; afterwards every post's
// comment_count must equal the number of its comments.

#include <atomic>
#include <map>
#include <set>
#include <random>
#include <thread>

#include <catch2/catch.hpp>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "tests/support/blog_flow.h"
#include "tests/support/server_process.h"

using namespace std::chrono_literals;
using herald::test::BrokerProcess;
using herald::test::Eventually;
using herald::test::BlogFlow;
using herald::test::Call;
using herald::test::DeleteComment;
using herald::test::GetJson;
using herald::test::ServerProcess;
using nlohmann::json;

TEST_CASE("flow: counts stay exact while broker and services are killed and restarted", "[e2e][flow]") {
  BlogFlow flow;
  std::vector<std::string> post_ids;
  for (int i = 0; i < 3; ++i) {
    auto r = Call(flow.gateway.address(), "POST", "/api/posts",
                  json{{"author", "alice"}, {"title", "post " + std::to_string(i)}, {"content", "text"}}.dump());
    REQUIRE(r);
    REQUIRE(r->status == 201);
    post_ids.push_back(json::parse(r->body)["id"]);
  }

  // Two writers, bounded in count: add comments, and remove some of the ones they added.
  std::atomic<bool> stop{false};
  std::atomic<int> ok_requests{0};
  auto writer = [&](int seed) {
    std::mt19937 rng(seed);
    std::vector<std::pair<std::string, std::string>> mine;  // id, delete token
    for (int i = 0; i < 150 && !stop; ++i) {
      if (!mine.empty() && rng() % 3 == 0) {
        std::size_t k = rng() % mine.size();
        auto r = DeleteComment(flow.gateway.address(), mine[k].first, mine[k].second);
        if (r && (r->status == 204 || r->status == 404)) {
          mine.erase(mine.begin() + static_cast<std::ptrdiff_t>(k));
          ++ok_requests;
        }
      } else {
        json body = {{"author", "bob"}, {"content", "hi"}};
        auto r = Call(flow.gateway.address(), "POST",
                      "/api/posts/" + post_ids[rng() % post_ids.size()] + "/comments", body.dump());
        if (r && r->status == 201) {
          json comment = json::parse(r->body);
          mine.emplace_back(comment["id"], comment["delete_token"]);
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
      json list = GetJson(flow.gateway.address(), "/api/posts/" + p["id"].get<std::string>() + "/comments");
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
  // Each notification is there once, though events may have been delivered more than once.
  std::set<std::string> noted;
  for (const auto& n : notes) CHECK(noted.insert(n["comment_id"].get<std::string>()).second);
}

TEST_CASE("flow: bad requests get 4xx JSON errors and change nothing", "[e2e][flow]") {
  BlogFlow flow;
  auto gw = flow.gateway.address();
  auto expect = [&](const std::string& method, const std::string& path, const std::string& body, int status) {
    auto r = Call(gw, method, path, body);
    INFO(method << " " << path << " " << body.substr(0, 60));
    REQUIRE(r);
    CHECK(r->status == status);
    json j = json::parse(r->body, nullptr, false);
    CHECK(j.is_object());
    CHECK(j["error"].is_string());
  };
  expect("POST", "/api/posts", "{not json", 400);
  expect("POST", "/api/posts", R"({"author":"a","title":"t"})", 400);                 // missing content
  expect("POST", "/api/posts", R"({"author":"","title":"t","content":"c"})", 400);   // empty field
  expect("POST", "/api/posts", R"({"author":")" + std::string("\xff") + R"(","title":"t","content":"c"})", 400);
  expect("POST", "/api/posts", "{\"a\":" + std::string(100, '[') + std::string(100, ']') + "}", 400);
  expect("POST", "/api/posts", R"({"author":"a","title":"t","content":")" + std::string(70'000, 'x') + R"("})", 413);
  expect("POST", "/api/posts/nope/comments", R"({"author":"a","content":"c"})", 404);
  expect("DELETE", "/api/comments/does-not-exist", "", 404);
  expect("GET", "/api/posts/nope", "", 404);
  expect("GET", "/no/such/route", "", 404);
  CHECK(GetJson(gw, "/api/posts").size() == 0);

  // A post, one comment, and its removal: 204 once, 404 after.
  auto r = Call(gw, "POST", "/api/posts", R"({"author":"alice","title":"Hi","content":"First post"})");
  REQUIRE(r);
  REQUIRE(r->status == 201);
  json post = json::parse(r->body);
  CHECK(post["comment_count"] == 0);
  CHECK(post["created_at"].get<std::string>().size() == 24);
  r = Call(gw, "POST", "/api/posts/" + post["id"].get<std::string>() + "/comments", R"({"author":"bob","content":"Nice"})");
  REQUIRE(r);
  REQUIRE(r->status == 201);
  json comment = json::parse(r->body);
  std::string comment_id = comment["id"], token = comment["delete_token"];
  expect("DELETE", "/api/comments/" + comment_id, "", 403);  // without its token
  r = DeleteComment(gw, comment_id, (token[0] == '0' ? "1" : "0") + token.substr(1));  // with another
  REQUIRE(r);
  CHECK(r->status == 403);
  r = DeleteComment(gw, comment_id, token);
  REQUIRE(r);
  CHECK(r->status == 204);
  r = DeleteComment(gw, comment_id, token);
  REQUIRE(r);
  CHECK(r->status == 404);
  // A service that is down is an error from the gateway, not a hang.
  flow.comments.Kill();
  r = Call(gw, "GET", "/api/posts/" + post["id"].get<std::string>() + "/comments");
  REQUIRE(r);
  CHECK(r->status == 502);
}
