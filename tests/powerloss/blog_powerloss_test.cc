// Power cuts under the blog's own storage: the post-service and the
// comment-service keep their RocksDB databases on herald-cutfs while writers
// add and delete comments through the gateway. Each cut SIGKILLs both
// services, takes back everything they had not synced, and starts them again
// on a new mount. Afterwards:
// - every comment the API answered 201 for exists, unless a delete of it was
//   answered 204 (a delete without a clear answer may have gone either way);
// - every post's comment_count equals the comments listed for it;
// - the comment-service's outbox drains: no event was lost on the way to the
//   post-service.
// HERALD_POWERLOSS_CUTS cycles (default 20).

#include <catch2/catch.hpp>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/powerloss/powerloss_load.h"
#include "tests/support/blog_flow.h"
#include "tests/support/cutfs_mount.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"

namespace {

using namespace std::chrono_literals;
using herald::test::Call;
using herald::test::CutMount;
using herald::test::DeleteComment;
using herald::test::Eventually;
using herald::test::GetJson;
using herald::test::ServerProcess;
using nlohmann::json;

// What the writers were told.
struct Told {
  std::mutex mu;
  std::map<std::string, std::string> created;  // 201: comment id -> post id
  std::map<std::string, std::string> tokens;   // comment id -> delete token
  std::set<std::string> deleted;               // a delete answered 204
  std::set<std::string> maybe_deleted;         // a delete with no clear answer
};

void Write(const std::string& gateway, const std::vector<std::string>& posts, uint64_t seed,
           const std::atomic<bool>& stop, Told& told) {
  std::mt19937_64 rng(seed);
  std::vector<std::string> mine;
  while (!stop) {
    if (!mine.empty() && rng() % 3 == 0) {
      const std::size_t at = rng() % mine.size();
      const std::string id = mine[at];
      mine.erase(mine.begin() + static_cast<std::ptrdiff_t>(at));
      std::string token;
      {
        std::lock_guard lock(told.mu);
        token = told.tokens[id];
      }
      auto r = DeleteComment(gateway, id, token);
      std::lock_guard lock(told.mu);
      if (r && r->status == 204) {
        told.deleted.insert(id);
      } else if (!r || r->status >= 500) {
        told.maybe_deleted.insert(id);
      }
      continue;
    }
    const std::string& post = posts[rng() % posts.size()];
    auto r = Call(gateway, "POST", "/api/posts/" + post + "/comments", R"({"author":"bob","content":"hi"})");
    if (r && r->status == 201) {
      json reply = json::parse(r->body, nullptr, false);
      std::lock_guard lock(told.mu);
      told.created[reply["id"]] = post;
      told.tokens[reply["id"]] = reply.value("delete_token", "");
      mine.push_back(reply["id"]);
    } else {
      std::this_thread::sleep_for(20ms);  // a service is down: do not spin
    }
  }
}

}  // namespace

TEST_CASE("power loss: the blog keeps every comment it answered 201 for, and the counts converge",
          "[powerloss][blog]") {
  const int cuts = herald::powerloss::CutsFromEnvironment();
  herald::test::TempDir work("herald-blog-powerloss");
  const std::string real = work.str() + "/real", graveyard = work.str() + "/graveyard", mnt = work.str() + "/mnt";
  for (const auto& d : {real, graveyard, mnt}) std::filesystem::create_directories(d);
  auto mount = std::make_unique<CutMount>(real, graveyard, mnt);

  herald::test::BlogFlow flow({}, {}, {}, {.posts = mnt + "/posts", .comments = mnt + "/comments"});
  ServerProcess& posts = flow.posts;
  ServerProcess& comments = flow.comments;
  const std::string gw = flow.gateway.address();

  std::vector<std::string> post_ids;
  for (int i = 0; i < 3; ++i) {
    auto r = Call(gw, "POST", "/api/posts",
                  json{{"author", "alice"}, {"title", "post " + std::to_string(i)}, {"content", "text"}}.dump());
    REQUIRE(r);
    REQUIRE(r->status == 201);
    post_ids.push_back(json::parse(r->body)["id"]);
  }

  Told told;
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (uint64_t w = 0; w < 3; ++w)
    writers.emplace_back(Write, gw, std::cref(post_ids), std::random_device{}() + w, std::cref(stop), std::ref(told));
  struct JoinWriters {
    std::atomic<bool>& stop;
    std::vector<std::thread>& threads;
    ~JoinWriters() {
      stop = true;
      for (auto& t : threads) t.join();
    }
  } join{stop, writers};

  std::mt19937_64 rng(std::random_device{}());
  std::vector<std::string> replies;
  for (int cut = 0; cut < cuts; ++cut) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + rng() % 500));
    comments.Kill();
    posts.Kill();
    replies.push_back(mount->Command("cut drop " + std::to_string(rng())));
    REQUIRE(replies.back().rfind("ok", 0) == 0);
    mount.reset();
    mount = std::make_unique<CutMount>(real, graveyard, mnt);
    posts.Restart();
    comments.Restart();
  }
  stop = true;
  for (auto& t : writers) t.join();
  writers.clear();

  // Every 201 survives (unless deleted), counts converge, the outbox drains.
  std::map<std::string, std::set<std::string>> listed;  // post id -> comment ids
  std::map<std::string, int64_t> counts;
  bool converged = Eventually(
      [&] {
        json outbox = GetJson(comments.address(), "/outbox");
        if (!outbox.is_object() || outbox["pending"] != 0) return false;
        for (const auto& post : post_ids) {
          json p = GetJson(gw, "/api/posts/" + post);
          json list = GetJson(gw, "/api/posts/" + post + "/comments");
          if (!p.is_object() || !list.is_array()) return false;
          listed[post].clear();
          for (const auto& c : list) listed[post].insert(c["id"].get<std::string>());
          counts[post] = p["comment_count"].get<int64_t>();
          if (counts[post] != static_cast<int64_t>(list.size())) return false;
        }
        return true;
      },
      60s, 100ms);
  std::string cut_replies;
  for (const auto& r : replies) cut_replies += r + "\n";
  INFO("cuts:\n" << cut_replies);
  CHECK(converged);

  std::lock_guard lock(told.mu);
  uint64_t lost = 0, resurrected = 0;
  std::string details;
  for (const auto& [id, post] : told.created) {
    const bool there = listed[post].count(id) > 0;
    if (!there && !told.deleted.count(id) && !told.maybe_deleted.count(id)) {
      ++lost;
      if (lost <= 10) details += "comment " + id + " (201) is gone\n";
    }
    if (there && told.deleted.count(id)) {
      ++resurrected;
      if (resurrected <= 10) details += "comment " + id + " (deleted, 204) is back\n";
    }
  }
  std::printf("blog: %d cuts, %zu comments answered 201, %zu deletes answered 204, %llu lost, %llu deleted ones back\n",
              cuts, told.created.size(), told.deleted.size(), static_cast<unsigned long long>(lost),
              static_cast<unsigned long long>(resurrected));
  std::fflush(stdout);
  INFO(details);
  CHECK(told.created.size() > 0);
  CHECK(lost == 0);
  CHECK(resurrected == 0);
}
