// A soak of the comment-count flow as real processes: brokerd, post-service,
// comment-service, notification-service and api-gateway. Writer threads add
// and remove comments through the gateway for the whole run, while the broker
// and the three services behind the gateway are killed (mostly SIGKILL, some
// SIGTERM) and restarted at random. Afterwards every post's comment_count must
// converge to the number of comments the comment-service lists for it, the
// comment-service's outbox must drain, and the notification-service must have
// one notification per created comment. The bound on that convergence is
// 90 s, or half the soak's length for soaks longer than 3 minutes.
//
// HERALD_SOAK_SECONDS: how long the writers and the faults run (default 20,
//   for CI; tools/soak.sh runs several minutes).
// HERALD_SOAK_SEED: the seed of the fault schedule and of the writers' choices
//   (default: random, printed). Timing differs from run to run, so a seed
//   reproduces the schedule of faults, not the exact interleaving.
//
// What the writers know: a 201 means the comment exists, a 204 or a 404 on a
// delete means it is gone. Any other outcome (a timeout, a 502 because the
// comment-service died mid-request, ...) is ambiguous: it may have taken
// effect. The truth is what the comment-service lists once everything runs
// again; the checks compare the writers' certain knowledge with it and allow
// the ambiguous requests either outcome.

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <sstream>
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
using Clock = std::chrono::steady_clock;

namespace {

double SoakSeconds() {
  const char* env = std::getenv("HERALD_SOAK_SECONDS");
  double s = env ? std::atof(env) : 20;
  return s > 0 ? s : 20;
}

uint64_t SoakSeed() {
  if (const char* env = std::getenv("HERALD_SOAK_SEED"); env && *env) return std::strtoull(env, nullptr, 10);
  return (uint64_t{std::random_device{}()} << 32) | std::random_device{}();
}

// What one writer did and knows. Written by its thread only, read by the
// main thread after the join.
struct WriterLog {
  std::set<std::string> alive;            // 201, and no delete tried since
  std::set<std::string> maybe_deleted;    // 201, then a delete with no clear answer
  std::set<std::string> gone;             // a delete answered 204 or 404
  std::map<std::string, std::string> delete_tokens;  // of each comment with a 201
  std::set<std::string> created;          // every 201 (each must get its notification)
  int ok_adds = 0, ok_removes = 0;
  int ambiguous_adds = 0;                 // no 201 and not a clear refusal: may exist
  int refused_adds = 0;                   // a clear "not done" (404/503 before storing, 400)
  int ambiguous_removes = 0;
  int lost = 0;                           // a delete of an `alive` comment answered 404
  std::map<std::string, int> failures;    // outcome (status or error) -> count
  int failures_total() const {
    int n = 0;
    for (const auto& [outcome, count] : failures) n += count;
    return n;
  }
};

std::string Outcome(const httplib::Result& r) {
  if (!r) return "error:" + httplib::to_string(r.error());
  return std::to_string(r->status);
}

// The comment-service answers 503 (post lookup failed), 404 (no such post) and
// 400 before it stores anything; everything else that is not a 201 may have
// been stored (the gateway says 502 when its upstream died mid-request).
bool ClearlyNotAdded(const httplib::Result& r) {
  if (!r) return false;
  if (r->status == 400 || r->status == 404) return true;
  if (r->status == 503) {
    json j = json::parse(r->body, nullptr, false);
    return j.is_object() && j.value("code", "") == "post_service_unavailable";
  }
  return false;
}

void RunWriter(const std::string& gateway, const std::vector<std::string>& post_ids, uint64_t seed, int index,
               Clock::time_point deadline, const std::atomic<bool>& stop, WriterLog& log) {
  std::mt19937_64 rng(seed);
  const int kMaxOps = 1'000'000;  // a bound besides the deadline
  int requests_failed = 0;
  for (int i = 0; i < kMaxOps && !stop && Clock::now() < deadline; ++i) {
    auto pick = rng() % 10;
    if (!log.maybe_deleted.empty() && pick == 0) {
      // Settle an earlier ambiguous delete: whatever the answer now, 204 or 404, it is gone.
      auto it = std::next(log.maybe_deleted.begin(), static_cast<std::ptrdiff_t>(rng() % log.maybe_deleted.size()));
      std::string id = *it;
      auto r = DeleteComment(gateway, id, log.delete_tokens[id]);
      if (r && (r->status == 204 || r->status == 404)) {
        log.maybe_deleted.erase(id);
        log.gone.insert(id);
        if (r->status == 204) ++log.ok_removes;
      } else {
        ++log.failures["delete " + Outcome(r)];
      }
    } else if (!log.alive.empty() && pick < 4) {
      auto it = std::next(log.alive.begin(), static_cast<std::ptrdiff_t>(rng() % log.alive.size()));
      std::string id = *it;
      auto r = DeleteComment(gateway, id, log.delete_tokens[id]);
      log.alive.erase(id);
      if (r && r->status == 204) {
        log.gone.insert(id);
        ++log.ok_removes;
      } else if (r && r->status == 404) {
        // It had a 201 and no delete was ever sent for it: it was lost.
        log.gone.insert(id);
        ++log.lost;
      } else {
        log.maybe_deleted.insert(id);
        ++log.ambiguous_removes;
        ++log.failures["delete " + Outcome(r)];
      }
    } else {
      const std::string& post = post_ids[rng() % post_ids.size()];
      json body = {{"author", "bob" + std::to_string(index)}, {"content", "soak comment " + std::to_string(i)}};
      auto r = Call(gateway, "POST", "/api/posts/" + post + "/comments", body.dump());
      json reply = r && r->status == 201 ? json::parse(r->body, nullptr, false) : json();
      if (reply.is_object() && reply["id"].is_string()) {
        std::string id = reply["id"];
        log.delete_tokens[id] = reply.value("delete_token", "");
        log.alive.insert(id);
        log.created.insert(id);
        ++log.ok_adds;
      } else {
        ++(ClearlyNotAdded(r) ? log.refused_adds : log.ambiguous_adds);
        ++log.failures["add " + Outcome(r)];
      }
    }
    // After a failure, back off a little instead of spinning on a process that is down.
    bool failed = requests_failed != log.failures_total();
    requests_failed = log.failures_total();
    std::this_thread::sleep_for(std::chrono::milliseconds(failed ? 20 + rng() % 30 : 1 + rng() % 4));
  }
}

// Sets `stop` and joins the writers however the main thread leaves the scope
// (a failed REQUIRE in a Restart() throws).
struct JoinAll {
  std::atomic<bool>& stop;
  std::vector<std::thread>& threads;
  ~JoinAll() {
    stop = true;
    for (auto& t : threads)
      if (t.joinable()) t.join();
  }
};

}  // namespace

TEST_CASE("soak: counts stay exact while broker and services are killed at random under load",
          "[e2e][flow][soak]") {
  const double seconds = SoakSeconds();
  const uint64_t seed = SoakSeed();
  std::cout << "soak: " << seconds << " s, seed " << seed << " (rerun with HERALD_SOAK_SEED=" << seed << ")"
            << std::endl;
  INFO("soak seed " << seed << ", " << seconds << " s");
  const auto test_start = Clock::now();

  BlogFlow flow;
  const std::string gw = flow.gateway.address();
  constexpr int kPosts = 4;
  std::vector<std::string> post_ids;
  for (int i = 0; i < kPosts; ++i) {
    auto r = Call(gw, "POST", "/api/posts",
                  json{{"author", "alice"}, {"title", "post " + std::to_string(i)}, {"content", "text"}}.dump());
    REQUIRE(r);
    REQUIRE(r->status == 201);
    post_ids.push_back(json::parse(r->body)["id"]);
  }
  // Warm-up without faults: one comment per post, counted and notified, so
  // every subscription is in place before the faults begin.
  std::set<std::string> warmup_ids;
  for (const auto& post : post_ids) {
    auto r = Call(gw, "POST", "/api/posts/" + post + "/comments", R"({"author":"carol","content":"first"})");
    REQUIRE(r);
    REQUIRE(r->status == 201);
    warmup_ids.insert(json::parse(r->body)["id"].get<std::string>());
  }
  REQUIRE(Eventually(
      [&] {
        json posts = GetJson(gw, "/api/posts");
        json notes = GetJson(gw, "/api/notifications?user=alice");
        if (!posts.is_array() || posts.size() != kPosts || !notes.is_array() || notes.size() != kPosts) return false;
        for (const auto& p : posts)
          if (p["comment_count"] != 1) return false;
        return true;
      },
      30s, 50ms));

  // The writers.
  constexpr int kWriters = 4;
  const auto soak_start = Clock::now();
  const auto deadline = soak_start + std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
  std::atomic<bool> stop{false};
  std::vector<WriterLog> logs(kWriters);
  std::vector<std::thread> writers;
  JoinAll join_all{stop, writers};
  for (int w = 0; w < kWriters; ++w)
    writers.emplace_back(RunWriter, gw, std::cref(post_ids), seed + 1 + w, w, deadline, std::cref(stop),
                         std::ref(logs[w]));

  // The faults, on this thread (Restart() may REQUIRE). One process is down
  // at a time; each is restarted before the next fault.
  struct Target {
    const char* name;
    ServerProcess* process;
    int kills = 0, stops = 0;
  };
  std::vector<Target> targets = {{"broker", &flow.broker},
                                 {"comment-service", &flow.comments},
                                 {"post-service", &flow.posts},
                                 {"notification-service", &flow.notifications}};
  std::mt19937_64 chaos(seed);
  std::ostringstream schedule;  // shown if the test fails
  // SIGTERM stops whose exit status was not 0: -1 (did not exit within 10 s,
  // then killed) is reported; anything else (died of the signal, crashed
  // while shutting down) fails the test.
  std::vector<std::string> unclean_stops;
  int crashed_stops = 0;
  const int kMaxFaults = 100'000;  // a bound besides the deadline
  for (int n = 0; n < kMaxFaults && Clock::now() < deadline; ++n) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100 + chaos() % 701));
    if (Clock::now() >= deadline) break;
    Target& t = targets[chaos() % targets.size()];
    bool term = chaos() % 4 == 0;
    auto down_for = std::chrono::milliseconds(chaos() % 401);
    double at = std::chrono::duration<double>(Clock::now() - soak_start).count();
    if (term) {
      int status = t.process->Stop();
      ++t.stops;
      if (status != 0) unclean_stops.push_back(std::string(t.name) + " exit " + std::to_string(status));
      if (status != 0 && status != -1) ++crashed_stops;
    } else {
      t.process->Kill();
      ++t.kills;
    }
    std::this_thread::sleep_for(down_for);
    t.process->Restart();
    schedule << at << "s " << (term ? "SIGTERM " : "SIGKILL ") << t.name << ", down " << down_for.count() << " ms\n";
  }
  stop = true;
  for (auto& t : writers) t.join();
  const double soak_seconds = std::chrono::duration<double>(Clock::now() - soak_start).count();
  for (const auto& t : targets) REQUIRE(t.process->running());
  REQUIRE(flow.gateway.running());

  // Sum up what the writers know.
  WriterLog all;
  for (const auto& l : logs) {
    all.alive.insert(l.alive.begin(), l.alive.end());
    all.maybe_deleted.insert(l.maybe_deleted.begin(), l.maybe_deleted.end());
    all.gone.insert(l.gone.begin(), l.gone.end());
    all.created.insert(l.created.begin(), l.created.end());
    all.ok_adds += l.ok_adds;
    all.ok_removes += l.ok_removes;
    all.ambiguous_adds += l.ambiguous_adds;
    all.refused_adds += l.refused_adds;
    all.ambiguous_removes += l.ambiguous_removes;
    all.lost += l.lost;
    for (const auto& [k, v] : l.failures) all.failures[k] += v;
  }
  all.alive.insert(warmup_ids.begin(), warmup_ids.end());
  all.created.insert(warmup_ids.begin(), warmup_ids.end());
  int failed = 0;
  std::ostringstream failures;
  for (const auto& [k, v] : all.failures) {
    failed += v;
    failures << " " << k << "=" << v;
  }
  std::ostringstream kills;
  for (const auto& t : targets) kills << " " << t.name << "=" << t.kills << "+" << t.stops;
  INFO("fault schedule:\n" << schedule.str());
  INFO("failed requests:" << failures.str());

  // Every process runs again: the counts converge to what the comment-service
  // lists, and its outbox drains.
  // The post-service and the notification-service apply one event per post
  // at a time (the post id is the key), so a long soak leaves them a backlog
  // that takes a while to work off: the bound grows with long runs.
  const auto converge_limit =
      std::max<std::chrono::milliseconds>(90s, std::chrono::milliseconds(static_cast<int64_t>(seconds * 500)));
  const auto converge_start = Clock::now();
  std::map<std::string, json> listed;  // post id -> the comment-service's list
  json last_posts;
  // Progress samples about once a second: how far the counts are behind.
  std::ostringstream progress;
  auto last_sample = converge_start - 1h;
  bool converged = Eventually(
      [&] {
        last_posts = GetJson(gw, "/api/posts");
        if (!last_posts.is_array() || last_posts.size() != kPosts) return false;
        json outbox = GetJson(flow.comments.address(), "/outbox");
        if (!outbox.is_object()) return false;
        bool all_equal = outbox["pending"] == 0;
        int64_t counted = 0, comments = 0;
        for (const auto& p : last_posts) {
          std::string id = p["id"];
          json list = GetJson(gw, "/api/posts/" + id + "/comments");
          if (!list.is_array()) return false;
          listed[id] = list;
          counted += p["comment_count"].get<int64_t>();
          comments += static_cast<int64_t>(list.size());
          if (p["comment_count"] != list.size()) all_equal = false;
        }
        if (Clock::now() - last_sample >= 1s) {
          last_sample = Clock::now();
          progress << " " << std::chrono::duration<double>(last_sample - converge_start).count() << "s: outbox "
                   << outbox["pending"] << ", counts " << counted << " of " << comments << ";";
        }
        return all_equal;
      },
      converge_limit, 200ms);
  const double converge_seconds = std::chrono::duration<double>(Clock::now() - converge_start).count();
  INFO("convergence:" << progress.str());
  if (!converged) {
    WARN("posts: " << last_posts.dump() << "\noutbox: " << GetJson(flow.comments.address(), "/outbox").dump()
                   << "\nbroker log:\n" << flow.broker.LogTail() << "\npost-service log:\n"
                   << flow.posts.LogTail() << "\ncomment-service log:\n" << flow.comments.LogTail());
  }
  REQUIRE(converged);

  // The comment-service's list against what the writers know for sure.
  std::set<std::string> present;
  for (const auto& [post, list] : listed)
    for (const auto& c : list) present.insert(c["id"].get<std::string>());
  int missing = 0, resurrected = 0, unknown = 0;
  for (const auto& id : all.alive) missing += !present.count(id);
  for (const auto& id : all.gone) resurrected += present.count(id) ? 1 : 0;
  for (const auto& id : present) unknown += !all.alive.count(id) && !all.maybe_deleted.count(id);
  int total_count = 0;
  for (const auto& p : last_posts) total_count += p["comment_count"].get<int>();

  // The notifications: one per created comment, none twice, and one for
  // every comment that got a 201 (deleted since or not).
  json notes;
  std::set<std::string> noted;
  int duplicates = 0;
  bool notified = Eventually(
      [&] {
        notes = GetJson(gw, "/api/notifications?user=alice");
        if (!notes.is_array()) return false;
        noted.clear();
        duplicates = 0;
        for (const auto& n : notes) duplicates += !noted.insert(n["comment_id"].get<std::string>()).second;
        for (const auto& id : all.created)
          if (!noted.count(id)) return false;
        return true;
      },
      converge_limit, 200ms);
  int unknown_notes = 0;
  for (const auto& id : noted) unknown_notes += !all.created.count(id);

  const double total_seconds = std::chrono::duration<double>(Clock::now() - test_start).count();
  std::ostringstream summary;
  summary << "soak summary: duration " << soak_seconds << " s (asked " << seconds << "), seed " << seed
          << ", writers " << kWriters << ", adds ok " << all.ok_adds << ", removes ok " << all.ok_removes
          << ", failed requests " << failed << " (ambiguous adds " << all.ambiguous_adds << ", refused adds "
          << all.refused_adds << ", ambiguous removes " << all.ambiguous_removes << "), kills(SIGKILL+SIGTERM)"
          << kills.str() << ", comments at end " << present.size() << " (sum of counts " << total_count
          << ", from ambiguous adds " << unknown << "), notifications " << noted.size() << ", converged in " << converge_seconds << " s, test took "
          << total_seconds << " s";
  std::cout << summary.str() << "\n  failed requests by outcome:" << failures.str() << std::endl;
  if (converge_seconds > 5) std::cout << "  convergence:" << progress.str() << std::endl;
  if (!unclean_stops.empty()) {
    std::ostringstream s;
    for (const auto& x : unclean_stops) s << " " << x;
    std::cout << "  SIGTERM stops that did not exit 0 (-1: not within 10 s):" << s.str() << std::endl;
  }
  INFO(summary.str());

  // Enough worked for the run to mean something: adds and removes went
  // through in every second of the soak on average.
  CHECK(all.ok_adds >= 5 * seconds);
  CHECK(all.ok_removes >= 2 * seconds);
  int faults = 0;
  for (const auto& t : targets) faults += t.kills + t.stops;
  CHECK(faults > 0);
  if (faults >= 20) {  // then each of the four is hit with near certainty
    for (const auto& t : targets) CHECK(t.kills + t.stops > 0);
  }
  // No acknowledged write was lost or undone.
  CHECK(all.lost == 0);
  CHECK(missing == 0);
  CHECK(resurrected == 0);
  // What the writers do not know of came from ambiguous adds.
  CHECK(unknown <= all.ambiguous_adds);
  CHECK(unknown_notes <= all.ambiguous_adds);
  CHECK(notified);
  CHECK(duplicates == 0);
  CHECK(crashed_stops == 0);
  if (!notified || duplicates != 0) {
    WARN("notification-service log:\n" << flow.notifications.LogTail());
  }
}
