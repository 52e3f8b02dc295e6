// Retention: which batches are past a topic's limits (RetentionCut), and the
// store's truncation (earliest offset, bytes, persistence across a reopen).

#include <future>

#include <catch2/catch.hpp>

#include "broker/logging.h"
#include "broker/storage/retention_worker.h"
#include "broker/storage/store.h"
#include "tests/support/temp_dir.h"

using namespace herald::broker;
using namespace std::chrono_literals;

namespace {

// Ten batches of 10 messages and 100 bytes, one second apart, starting at t=1000 s.
std::vector<BatchSummary> TenBatches() {
  std::vector<BatchSummary> b;
  for (uint64_t i = 0; i < 10; ++i) b.push_back({i * 10, 10, 100, static_cast<int64_t>(1'000'000 + i * 1000)});
  return b;
}

TopicRecord Topic(RetentionPolicy r, uint64_t earliest = 0) {
  TopicRecord t;
  t.earliest_offset = earliest;
  t.next_offset = 100;
  t.bytes = 100 * (10 - earliest / 10);
  t.retention = r;
  return t;
}

uint64_t Cut(const TopicRecord& t, int64_t now_ms, const std::vector<BatchSummary>& batches) {
  return RetentionCut(t, now_ms, [&](uint64_t from, std::vector<BatchSummary>* out) {
    for (const auto& b : batches)
      if (b.end_offset() > from && out->size() < 3) out->push_back(b);  // small chunks
    return true;
  });
}

}  // namespace

TEST_CASE("retention: no limits keep everything", "[unit][retention]") {
  CHECK(Cut(Topic({}), 9'999'999'999, TenBatches()) == 0);
}

TEST_CASE("retention: by count keeps at most N messages, whole batches", "[unit][retention]") {
  CHECK(Cut(Topic({0, 0, 30}), 0, TenBatches()) == 70);
  CHECK(Cut(Topic({0, 0, 35}), 0, TenBatches()) == 70);  // 30 kept: a batch goes only whole
  CHECK(Cut(Topic({0, 0, 100}), 0, TenBatches()) == 0);
  CHECK(Cut(Topic({0, 0, 30}, 70), 0, TenBatches()) == 70);  // already within the limit
}

TEST_CASE("retention: by bytes keeps at most N bytes", "[unit][retention]") {
  CHECK(Cut(Topic({0, 250, 0}), 0, TenBatches()) == 80);
  CHECK(Cut(Topic({0, 1000, 0}), 0, TenBatches()) == 0);
}

TEST_CASE("retention: by age removes batches older than the limit", "[unit][retention]") {
  // now = 1009.5 s; max age 3 s: batches stamped before 1006.5 s go (0..6).
  CHECK(Cut(Topic({3000, 0, 0}), 1'009'500, TenBatches()) == 70);
  // Everything is old: the cut is the end of the log.
  CHECK(Cut(Topic({1000, 0, 0}), 2'000'000, TenBatches()) == 100);
  // An age reaching back before the epoch keeps everything; up to 2^64-1 ms
  // is what a client can send (the broker fuzzer found the overflow).
  CHECK(Cut(Topic({2'000'000, 0, 0}), 1'009'500, TenBatches()) == 0);
  CHECK(Cut(Topic({UINT64_MAX, 0, 0}), 1'009'500, TenBatches()) == 0);
  CHECK(Cut(Topic({(uint64_t{1} << 63) + 86'400'000, 0, 0}), 1'795'637'178'034, TenBatches()) == 0);
}

TEST_CASE("retention: the strictest limit wins", "[unit][retention]") {
  CHECK(Cut(Topic({3000, 950, 60}), 1'009'500, TenBatches()) == 70);
  CHECK(Cut(Topic({60'000, 950, 60}), 1'009'500, TenBatches()) == 40);
}

TEST_CASE("store: truncation moves the earliest offset and survives a reopen", "[unit][store]") {
  EnsureLoggers();
  herald::test::TempDir dir;
  uint64_t id = 0;
  {
    std::unique_ptr<Store> store;
    REQUIRE(Store::Open({dir.str(), FsyncPolicy::kNever, 100ms}, &store).ok());
    std::promise<TopicRecord> created;
    store->CreateTopic("t", {0, 0, 5}, [&](Status, TopicRecord r, bool) { created.set_value(r); });
    id = created.get_future().get().id;
    for (int i = 0; i < 4; ++i) {
      RecordBatchBuilder b(3, 1000 + i, 64);
      for (int j = 0; j < 3; ++j) {
        b.StartRecord(nullptr, 0);
        b.FinishRecord("0123456789");
      }
      std::promise<AppendResult> done;
      store->Append({id, 0, 0, 3, b.Finish()}, [&](AppendResult r) { done.set_value(std::move(r)); });
      REQUIRE(done.get_future().get().status.ok());
    }
    std::vector<BatchSummary> batches;
    REQUIRE(store->ListBatches(id, 0, 100, &batches).ok());
    REQUIRE(batches.size() == 4);
    CHECK(batches[1].base_offset == 3);
    CHECK(batches[1].timestamp_ms == 1001);
    const uint64_t bytes = store->FindTopic(id)->bytes;
    CHECK(bytes == 4 * batches[0].bytes);
    CHECK(store->OffsetForTime(id, 1002) == 6);
    CHECK(store->OffsetForTime(id, 5000) == 12);

    // Offset 7 lies inside the batch [6, 9): only [0, 6) goes.
    std::promise<TopicRecord> truncated;
    store->Truncate(id, 7, [&](Status s, TopicRecord r, bool) {
      REQUIRE(s.ok());
      truncated.set_value(r);
    });
    TopicRecord t = truncated.get_future().get();
    CHECK(t.earliest_offset == 6);
    CHECK(t.next_offset == 12);
    CHECK(t.bytes == bytes / 2);
    std::vector<std::shared_ptr<const RecordBatch>> read;
    REQUIRE(store->ReadBatches(id, 0, 100, 1 << 20, &read).ok());
    REQUIRE_FALSE(read.empty());
    CHECK(read.front()->base_offset() == 6);
    REQUIRE(store->CompactTopicRange(id, 6).ok());

    // Everything: the log is empty, the offsets stay where they were.
    std::promise<TopicRecord> all;
    store->Truncate(id, Store::kUnknownOffset, [&](Status, TopicRecord r, bool) { all.set_value(r); });
    CHECK(all.get_future().get().earliest_offset == 12);
  }
  std::unique_ptr<Store> store;
  REQUIRE(Store::Open({dir.str(), FsyncPolicy::kNever, 100ms}, &store).ok());
  auto t = store->FindTopic(id);
  REQUIRE(t);
  CHECK(t->earliest_offset == 12);
  CHECK(t->next_offset == 12);
  CHECK(t->bytes == 0);
  CHECK(t->retention.max_messages == 5);
}
