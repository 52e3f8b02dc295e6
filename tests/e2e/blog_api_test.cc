// The blog's API as the page uses it, against the real processes: post
// lists in pages, the per-client post rate limit, notifications matched to
// exactly one user, and the gateway's event stream (GET /api/events): live
// post-updated events, Last-Event-ID replay, heartbeats and the stream cap.
// The page itself is tested in Chromium (tests/browser/).

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include <catch2/catch.hpp>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "tests/support/blog_flow.h"
#include "tests/support/server_process.h"

using namespace std::chrono_literals;
using herald::test::BlogFlow;
using herald::test::Call;
using herald::test::Eventually;
using herald::test::GetJson;
using nlohmann::json;

namespace {

std::string NewPost(const std::string& gw, const std::string& author, const std::string& title) {
  auto r = Call(gw, "POST", "/api/posts", json{{"author", author}, {"title", title}, {"content", "text"}}.dump());
  REQUIRE(r);
  REQUIRE(r->status == 201);
  return json::parse(r->body)["id"];
}

void NewComment(const std::string& gw, const std::string& post, const std::string& author) {
  auto r = Call(gw, "POST", "/api/posts/" + post + "/comments", json{{"author", author}, {"content", "hi"}}.dump());
  REQUIRE(r);
  REQUIRE(r->status == 201);
}

// Reads GET /api/events until `done(text so far)` holds or `timeout` passes;
// returns the text (and the status, the stream's first reply line).
struct EventRead {
  int status = 0;
  std::string text;
};
template <class Done>
EventRead ReadEvents(const std::string& gw, const httplib::Headers& headers, Done done,
                     std::chrono::milliseconds timeout = 10s) {
  httplib::Client c(gw.c_str());
  c.set_read_timeout(std::chrono::duration_cast<std::chrono::seconds>(timeout).count() + 1);
  EventRead read;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto r = c.Get("/api/events", headers, [&](const char* data, size_t n) {
    read.text.append(data, n);
    return !done(read.text) && std::chrono::steady_clock::now() < deadline;
  });
  if (r) read.status = r->status;
  else if (!read.text.empty()) read.status = 200;  // ended by us
  return read;
}

// The id of the last event in an SSE text.
std::string LastId(const std::string& text) {
  auto at = text.rfind("id: ");
  if (at == std::string::npos) return "";
  return text.substr(at + 4, text.find('\n', at) - at - 4);
}

}  // namespace

TEST_CASE("blog api: posts come in pages, newest first", "[e2e][flow][blog]") {
  BlogFlow flow({}, {}, {"--post-burst", "100"});
  auto gw = flow.gateway.address();
  std::vector<std::string> ids;  // oldest first
  for (int i = 0; i < 5; ++i) {
    ids.push_back(NewPost(gw, "alice", "post " + std::to_string(i)));
    std::this_thread::sleep_for(2ms);  // distinct creation times
  }
  json first = GetJson(gw, "/api/posts?limit=2");
  REQUIRE(first.size() == 2);
  CHECK(first[0]["id"] == ids[4]);
  CHECK(first[1]["id"] == ids[3]);
  json second = GetJson(gw, "/api/posts?limit=2&before=" + ids[3]);
  REQUIRE(second.size() == 2);
  CHECK(second[0]["id"] == ids[2]);
  CHECK(second[1]["id"] == ids[1]);
  json last = GetJson(gw, "/api/posts?limit=2&before=" + ids[1]);
  REQUIRE(last.size() == 1);
  CHECK(last[0]["id"] == ids[0]);
  CHECK(GetJson(gw, "/api/posts").size() == 5);  // default page: 20
  for (const char* bad : {"/api/posts?limit=0", "/api/posts?limit=101", "/api/posts?limit=x",
                          "/api/posts?before=no-such-post", "/api/posts?before=a/b"}) {
    auto r = Call(gw, "GET", bad);
    REQUIRE(r);
    INFO(bad);
    CHECK(r->status == 400);
  }
}

TEST_CASE("blog api: a client may create only so many posts, then gets 429 with Retry-After", "[e2e][flow][blog]") {
  BlogFlow flow({}, {}, {"--post-burst", "3", "--posts-per-minute", "6"});
  auto gw = flow.gateway.address();
  for (int i = 0; i < 3; ++i) NewPost(gw, "alice", "post " + std::to_string(i));
  auto r = Call(gw, "POST", "/api/posts", R"({"author":"alice","title":"one more","content":"x"})");
  REQUIRE(r);
  CHECK(r->status == 429);
  CHECK(json::parse(r->body)["code"] == "too_many_posts");
  int retry_after = std::stoi(r->get_header_value("Retry-After"));
  CHECK(retry_after >= 1);
  CHECK(retry_after <= 10);
  CHECK(GetJson(gw, "/api/posts").size() == 3);
  // Comments are not limited by it.
  NewComment(gw, GetJson(gw, "/api/posts")[0]["id"], "bob");
}

TEST_CASE("blog api: notifications are a user's own, not those of a name that starts like it", "[e2e][flow][blog]") {
  BlogFlow flow;
  auto gw = flow.gateway.address();
  std::string bobs = NewPost(gw, "bob", "bob's post");
  std::string evils = NewPost(gw, "bob/evil", "evil post");
  NewComment(gw, bobs, "carol");
  NewComment(gw, evils, "carol");
  NewComment(gw, evils, "carol");
  REQUIRE(Eventually([&] { return GetJson(gw, "/api/notifications?user=bob%2Fevil").size() == 2; }, 20s, 50ms));
  REQUIRE(Eventually([&] { return GetJson(gw, "/api/notifications?user=bob").size() == 1; }, 20s, 50ms));
  json notes = GetJson(gw, "/api/notifications?user=bob");
  CHECK(notes[0]["post_id"] == bobs);
  CHECK(notes[0]["user"] == "bob");
  CHECK(GetJson(gw, "/api/notifications?user=bo").empty());
}

TEST_CASE("blog api: the event stream carries post-updated live and replays what a reconnect missed",
          "[e2e][flow][blog]") {
  BlogFlow flow({}, {}, {"--events-heartbeat-ms", "300"});
  auto gw = flow.gateway.address();
  std::string post = NewPost(gw, "alice", "live");

  // Live: a comment while the stream is open arrives as post-updated with the new count.
  std::thread commenter([&] {
    std::this_thread::sleep_for(500ms);
    NewComment(gw, post, "bob");
  });
  EventRead live = ReadEvents(gw, {}, [](const std::string& t) { return t.find("event: post-updated") != std::string::npos; });
  commenter.join();
  INFO(live.text);
  CHECK(live.text.find("event: hello") != std::string::npos);
  REQUIRE(live.text.find("event: post-updated") != std::string::npos);
  CHECK(live.text.find(R"("comment_count":1)") != std::string::npos);
  CHECK(live.text.find("event: comment-created") != std::string::npos);
  std::string resume = LastId(live.text);
  REQUIRE_FALSE(resume.empty());

  // Two comments while no stream is open: a reconnect with Last-Event-ID gets both counts.
  NewComment(gw, post, "carol");
  NewComment(gw, post, "dave");
  REQUIRE(Eventually([&] { return GetJson(gw, "/api/posts/" + post)["comment_count"] == 3; }, 20s, 50ms));
  std::this_thread::sleep_for(300ms);  // the post-updated events reach the topic after the count is stored
  EventRead replay = ReadEvents(gw, {{"Last-Event-ID", resume}},
                                [](const std::string& t) { return t.find(R"("comment_count":3)") != std::string::npos; });
  INFO(replay.text);
  CHECK(replay.text.find(R"("comment_count":1)") == std::string::npos);  // seen before the reconnect
  CHECK(replay.text.find(R"("comment_count":2)") != std::string::npos);
  CHECK(replay.text.find(R"("comment_count":3)") != std::string::npos);
  CHECK(replay.text.find("event: reset") == std::string::npos);

  // A cursor the gateway cannot resume from: reset, the page reloads.
  EventRead bad = ReadEvents(gw, {{"Last-Event-ID", "nonsense"}},
                             [](const std::string& t) { return t.find("event: reset") != std::string::npos; });
  CHECK(bad.text.find("event: reset") != std::string::npos);

  // A quiet stream gets heartbeats.
  EventRead quiet = ReadEvents(gw, {}, [](const std::string& t) { return t.find(": heartbeat") != std::string::npos; }, 5s);
  CHECK(quiet.text.find(": heartbeat") != std::string::npos);
}

TEST_CASE("blog api: event streams are capped per gateway, and a closed one frees its place", "[e2e][flow][blog]") {
  BlogFlow flow({}, {}, {"--max-event-streams", "2", "--events-heartbeat-ms", "300"});
  auto gw = flow.gateway.address();
  std::atomic<bool> release{false};
  std::atomic<int> open{0};
  auto hold = [&] {
    bool counted = false;
    ReadEvents(gw, {}, [&](const std::string& t) {
      if (!counted && t.find("event: hello") != std::string::npos) {
        counted = true;
        ++open;
      }
      return release.load();
    }, 20s);
  };
  std::thread a(hold), b(hold);
  bool both_open = Eventually([&] { return open == 2; }, 10s, 20ms);
  auto third = Call(gw, "GET", "/api/events");
  bool refused = third && third->status == 503;
  release = true;
  a.join();
  b.join();
  REQUIRE(both_open);
  CHECK(refused);
  // Their places are free again: a new stream opens.
  bool opened = Eventually([&] {
    return ReadEvents(gw, {}, [](const std::string& t) { return t.find("event: hello") != std::string::npos; }, 2s)
               .text.find("event: hello") != std::string::npos;
  }, 10s, 100ms);
  CHECK(opened);
}
