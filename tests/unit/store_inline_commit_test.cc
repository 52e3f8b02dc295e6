// The store's inline commits (Store::CommitAppendsInline): appends committed
// on the thread that asks, in order with the storage thread's work.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "broker/storage/store.h"
#include "tests/support/temp_dir.h"
#include "store_test_support.h"

using namespace herald::broker;
using namespace herald::broker::test;

namespace {

// Appends whose completion the test collects, with the thread it ran on.
struct Completions {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::pair<uint64_t, std::thread::id>> done;  // (base offset, thread)
  int failed = 0;  // checked by the test's thread: Catch2 asserts on one thread only

  Store::AppendDone Record() {
    return [this](AppendResult r) {
      std::lock_guard lock(mu);
      if (!r.status.ok()) ++failed;
      done.emplace_back(r.base_offset, std::this_thread::get_id());
      cv.notify_all();
    };
  }
  void WaitFor(std::size_t n) {
    std::unique_lock lock(mu);
    REQUIRE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return done.size() >= n; }));
  }
  std::size_t size() {
    std::lock_guard lock(mu);
    return done.size();
  }
};

void AppendAsync(Store& store, uint64_t topic_id, Store::AppendDone done) {
  store.Append({topic_id, 0, 0, 1, Batch({"m"})}, std::move(done));
}

}  // namespace

TEST_CASE("store: inline commits run on the thread that asks, and leave every other operation in order to the storage thread",
          "[unit][store]") {
  herald::test::TempDir dir;
  auto store = OpenStore(dir.str());
  const auto id = CreateTopic(*store, "t").id;
  std::atomic<int> scheduled{0};
  store->CommitAppendsInline([&] { ++scheduled; });
  Completions c;

  // An append into an empty queue asks for an inline commit and wakes
  // nothing: it waits until this thread commits it. (A storage thread still
  // winding down from the topic's creation may take it first; then the next
  // one waits.)
  std::size_t waiting_at = 0;
  for (int attempt = 0; attempt < 10 && waiting_at == 0; ++attempt) {
    const int asked = scheduled;
    AppendAsync(*store, id, c.Record());
    CHECK(scheduled == asked + 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (c.size() == static_cast<std::size_t>(attempt)) waiting_at = c.size() + 1;
  }
  REQUIRE(waiting_at != 0);
  store->CommitQueuedAppends();
  REQUIRE(c.size() == waiting_at);
  const uint64_t first = c.done.back().first;
  CHECK(first == waiting_at - 1);
  CHECK(c.done.back().second == std::this_thread::get_id());

  // Behind a topic create, an append is the storage thread's: the inline
  // commit takes the appends in front of the create only.
  const int asked = scheduled;
  AppendAsync(*store, id, c.Record());
  std::promise<Status> created;
  store->CreateTopic("u", {}, [&](Status s, TopicRecord, bool) { created.set_value(s); });
  AppendAsync(*store, id, c.Record());
  CHECK(scheduled == asked + 1);  // one per append into an empty queue
  store->CommitQueuedAppends();
  REQUIRE(created.get_future().get().ok());
  c.WaitFor(waiting_at + 2);
  CHECK(c.done[waiting_at] == std::pair{first + 1, std::this_thread::get_id()});
  CHECK(c.done[waiting_at + 1].first == first + 2);
  CHECK(c.done[waiting_at + 1].second != std::this_thread::get_id());

  // Nothing queued: nothing to do.
  store->CommitQueuedAppends();
  CHECK(c.size() == waiting_at + 2);
  CHECK(c.failed == 0);
  CHECK(ReadAll(*store, id, 0).size() == waiting_at + 2);
}

TEST_CASE("store: inline commits from one thread and storage-thread work from others keep offsets dense",
          "[unit][store]") {
  herald::test::TempDir dir;
  auto store = OpenStore(dir.str());
  const auto id = CreateTopic(*store, "t").id;
  // The broker's shape: appends ask for a commit on one thread (its event loop).
  std::mutex mu;
  std::condition_variable cv;
  int asked = 0;
  bool stop = false;
  store->CommitAppendsInline([&] {
    std::lock_guard lock(mu);
    ++asked;
    cv.notify_one();
  });
  std::thread loop([&] {
    std::unique_lock lock(mu);
    for (;;) {
      cv.wait(lock, [&] { return asked > 0 || stop; });
      if (asked == 0) return;
      asked = 0;
      lock.unlock();
      store->CommitQueuedAppends();
      lock.lock();
    }
  });
  constexpr int kThreads = 4, kPerThread = 200;
  Completions c;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) AppendAsync(*store, id, c.Record());
    });
  }
  // Meanwhile, work only the storage thread does.
  for (int i = 0; i < 20; ++i) CreateTopic(*store, "other-" + std::to_string(i));
  for (auto& t : threads) t.join();
  c.WaitFor(kThreads * kPerThread);
  {
    std::lock_guard lock(mu);
    stop = true;
    cv.notify_one();
  }
  loop.join();
  CHECK(c.failed == 0);
  std::vector<uint64_t> offsets;
  for (const auto& [offset, thread] : c.done) offsets.push_back(offset);
  // Completions run in commit order, whichever thread committed.
  CHECK(std::is_sorted(offsets.begin(), offsets.end()));
  for (std::size_t i = 0; i < offsets.size(); ++i) REQUIRE(offsets[i] == i);
  CHECK(ReadAll(*store, id, 0).size() == offsets.size());
}

