#include "broker/storage/store.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

#include <rocksdb/db.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "broker/logging.h"
#include "broker/storage/key_codec.h"
#include "broker/storage/record_batch.h"
#include "tests/support/temp_dir.h"
#include "store_test_support.h"

using namespace herald::broker;
using herald::wire::ErrorCode;

using namespace herald::broker::test;

TEST_CASE("store: offsets are dense per topic and survive a reopen", "[unit][store]") {
  herald::test::TempDir dir;
  uint64_t a_id, b_id;
  {
    auto store = OpenStore(dir.str());
    bool created = false;
    a_id = CreateTopic(*store, "a", &created).id;
    CHECK(created);
    CreateTopic(*store, "a", &created);
    CHECK_FALSE(created);  // idempotent
    b_id = CreateTopic(*store, "b").id;
    CHECK(Append(*store, a_id, {"a0", "a1"}).base_offset == 0);
    CHECK(Append(*store, b_id, {"b0"}).base_offset == 0);
    CHECK(Append(*store, a_id, {"a2"}).base_offset == 2);
  }
  auto store = OpenStore(dir.str());
  auto topics = store->Topics();
  REQUIRE(topics.size() == 2);
  for (const auto& t : topics) CHECK(t.next_offset == (t.name == "a" ? 3u : 1u));
  CHECK(Append(*store, a_id, {"a3"}).base_offset == 3);
  CHECK(ReadAll(*store, a_id, 0) == std::vector<std::string>{"a0", "a1", "a2", "a3"});
  CHECK(ReadAll(*store, a_id, 1) == std::vector<std::string>{"a1", "a2", "a3"});
  CHECK(ReadAll(*store, b_id, 0) == std::vector<std::string>{"b0"});
}

TEST_CASE("store: a retried producer batch is stored once, also after a reopen", "[unit][store]") {
  herald::test::TempDir dir;
  uint64_t id;
  {
    auto store = OpenStore(dir.str());
    id = CreateTopic(*store, "t").id;
    auto first = Append(*store, id, {"x", "y"}, /*producer=*/77, /*sequence=*/1);
    REQUIRE(first.status.ok());
    CHECK_FALSE(first.duplicate);
    auto retry = Append(*store, id, {"x", "y"}, 77, 1);
    CHECK(retry.duplicate);
    CHECK(retry.base_offset == first.base_offset);
    CHECK(Append(*store, id, {"z"}, 77, 3).base_offset == 2);
    CHECK(Append(*store, id, {"other"}, 78, 1).base_offset == 3);  // another producer
  }
  auto store = OpenStore(dir.str());
  auto retry = Append(*store, id, {"z"}, 77, 3);
  CHECK(retry.duplicate);
  CHECK(retry.base_offset == 2);  // the last batch is remembered across restarts
  auto older = Append(*store, id, {"x", "y"}, 77, 1);
  CHECK(older.duplicate);
  CHECK(older.base_offset == Store::kUnknownOffset);
  CHECK(ReadAll(*store, id, 0).size() == 4);
}

TEST_CASE("store: appends to a missing or deleted topic fail and store nothing", "[unit][store]") {
  herald::test::TempDir dir;
  auto store = OpenStore(dir.str());
  CHECK(Append(*store, 999, {"x"}).status.code() == ErrorCode::TopicNotFound);
  auto id = CreateTopic(*store, "gone").id;
  REQUIRE(Append(*store, id, {"x"}).status.ok());
  std::promise<Status> deleted;
  store->DeleteTopic("gone", [&](Status s) { deleted.set_value(s); });
  REQUIRE(deleted.get_future().get().ok());
  CHECK(Append(*store, id, {"y"}).status.code() == ErrorCode::TopicNotFound);
  CHECK(ReadAll(*store, id, 0).empty());
  // A new topic of the same name starts a new log at offset 0.
  auto again = CreateTopic(*store, "gone");
  CHECK(again.id != id);
  CHECK(Append(*store, again.id, {"z"}).base_offset == 0);
}

TEST_CASE("store: deleting a topic deletes its producer states, one by one", "[unit][store]") {
  // Producer states live in a family updated in place, where RocksDB does not
  // support range tombstones: the topic's keys are deleted one at a time.
  herald::test::TempDir dir;
  uint64_t kept_id = 0;
  {
    auto store = OpenStore(dir.str());
    auto gone = CreateTopic(*store, "gone").id;
    kept_id = CreateTopic(*store, "kept").id;
    for (uint64_t producer : {7u, 8u, 9u}) REQUIRE(Append(*store, gone, {"x"}, producer, 1).status.ok());
    REQUIRE(Append(*store, kept_id, {"x"}, 7, 1).status.ok());
    std::promise<Status> deleted;
    store->DeleteTopic("gone", [&](Status s) { deleted.set_value(s); });
    REQUIRE(deleted.get_future().get().ok());
    // The kept topic's producer state still deduplicates.
    CHECK(Append(*store, kept_id, {"x"}, 7, 1).duplicate);
  }
  std::vector<std::string> names;
  REQUIRE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir.str(), &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const auto& n : names) families.emplace_back(n, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  REQUIRE(rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(), dir.str(), families, &handles, &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  std::vector<std::string> producer_keys;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i] != "producers") continue;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), handles[i]));
    for (it->SeekToFirst(); it->Valid(); it->Next()) producer_keys.push_back(it->key().ToString());
  }
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  REQUIRE(producer_keys.size() == 1);
  CHECK(producer_keys[0].starts_with(keys::TopicPrefix(kept_id)));
}

TEST_CASE("store: concurrent appends from many threads get distinct dense offsets", "[unit][store]") {
  herald::test::TempDir dir;
  auto store = OpenStore(dir.str());
  auto id = CreateTopic(*store, "t").id;
  constexpr int kThreads = 4, kPerThread = 200;
  std::vector<std::thread> threads;
  std::mutex mu;
  std::vector<uint64_t> offsets;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        auto r = Append(*store, id, {"m"});
        std::lock_guard lock(mu);
        offsets.push_back(r.base_offset);
      }
    });
  }
  for (auto& t : threads) t.join();
  std::sort(offsets.begin(), offsets.end());
  for (std::size_t i = 0; i < offsets.size(); ++i) REQUIRE(offsets[i] == i);
}

TEST_CASE("store: group positions are stored and loaded", "[unit][store]") {
  herald::test::TempDir dir;
  uint64_t id;
  {
    auto store = OpenStore(dir.str());
    id = CreateTopic(*store, "t").id;
    std::promise<Status> done;
    store->PutGroup(id, "g1", "pos-1", false, nullptr);
    store->PutGroup(id, "g1", "pos-2", true, [&](Status s) { done.set_value(s); });
    REQUIRE(done.get_future().get().ok());
  }
  auto store = OpenStore(dir.str());
  std::vector<GroupRecord> groups;
  REQUIRE(store->LoadGroups(&groups).ok());
  REQUIRE(groups.size() == 1);
  CHECK(groups[0].topic_id == id);
  CHECK(groups[0].name == "g1");
  CHECK(groups[0].position == "pos-2");
}

TEST_CASE("store: reads across batches stored before and after a reopen", "[unit][store]") {
  herald::test::TempDir dir;
  uint64_t id;
  {
    auto store = OpenStore(dir.str());
    id = CreateTopic(*store, "t").id;
    for (int i = 0; i < 50; ++i) REQUIRE(Append(*store, id, {"old-a", "old-b"}).status.ok());
  }
  // After the reopen the old batches sit in table files, the new ones in the memtable.
  auto store = OpenStore(dir.str());
  for (int i = 0; i < 50; ++i) REQUIRE(Append(*store, id, {"new-a", "new-b"}).status.ok());
  for (uint64_t from : {0u, 98u, 99u, 100u, 101u, 150u, 199u}) {
    INFO("from " << from);
    auto got = ReadAll(*store, id, from);
    REQUIRE(got.size() == 200 - from);
    CHECK(got.front() == (from < 100 ? (from % 2 ? "old-b" : "old-a") : (from % 2 ? "new-b" : "new-a")));
  }
}

namespace {

// Bytes of the segment files, as allocated on the disk (holes punched by
// retention do not count).
uint64_t SegmentBytes(const herald::test::TempDir& dir, const std::string& ext = ".seg") {
  uint64_t total = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir / "journal")) {
    struct stat st {};
    if (e.path().extension() == ext && ::stat(e.path().c_str(), &st) == 0) {
      total += std::min<uint64_t>(static_cast<uint64_t>(st.st_size), static_cast<uint64_t>(st.st_blocks) * 512);
    }
  }
  return total;
}

bool Eventually(const std::function<bool()>& done) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return done();
}

TopicRecord Truncate(Store& store, uint64_t topic_id, uint64_t before) {
  std::promise<std::pair<Status, TopicRecord>> p;
  store.Truncate(topic_id, before, [&](Status s, TopicRecord r, bool) { p.set_value({s, r}); });
  auto [status, record] = p.get_future().get();
  REQUIRE(status.ok());
  return record;
}

}  // namespace

TEST_CASE("store: memtables hold where batches are, not the batches", "[unit][store]") {
  herald::test::TempDir dir;
  auto store = OpenStore(dir.str());
  const uint64_t id = CreateTopic(*store, "t").id;
  // 64 MiB as fast as the store takes it. The batches go to the segment
  // log once, and the log family keeps a location of 37 bytes for each
  // (batch_location.h). When it kept the batches, memtables held up to
  // 22 MiB here, and every byte was written again by their flushes.
  const std::string payload(256u << 10, 'm');
  // Sampled from a thread of its own: the peak is while writes are stopped.
  std::atomic<bool> writing{true};
  std::atomic<uint64_t> peak{0};
  std::thread sampler([&] {
    while (writing.load()) {
      uint64_t bytes = store->MemtableBytes();
      if (bytes > peak.load()) peak.store(bytes);
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });
  std::vector<std::future<AppendResult>> pending;
  for (int i = 0; i < 256; ++i) {
    auto done = std::make_shared<std::promise<AppendResult>>();
    pending.push_back(done->get_future());
    store->Append({id, 0, 0, 1, Batch({payload})}, [done](AppendResult r) { done->set_value(std::move(r)); });
  }
  bool all_ok = true;
  for (auto& f : pending) all_ok = f.get().status.ok() && all_ok;
  writing.store(false);
  sampler.join();
  REQUIRE(all_ok);
  CHECK(peak > 0);  // the property counts what was written
  CHECK(peak < (2u << 20));
  CHECK(ReadAll(*store, id, 255) == std::vector<std::string>{payload});
}

TEST_CASE("store: segment files are kept while they hold live batches, and punched or deleted after",
          "[unit][store]") {
  herald::test::TempDir dir;
  auto store = OpenStore(dir.str());
  const uint64_t id = CreateTopic(*store, "t").id;
  // 96 MiB: six segment files.
  const std::string payload(256u << 10, 'p');
  for (int i = 0; i < 384; ++i) REQUIRE(Append(*store, id, {payload}).status.ok());
  CHECK(SegmentBytes(dir) >= (96u << 20));
  CHECK(store->StorageBytes() >= SegmentBytes(dir));
  CHECK(Append(*store, id, {"after"}).base_offset == 384);
  store.reset();
  store = OpenStore(dir.str());
  CHECK(ReadAll(*store, id, 382) == std::vector<std::string>{payload, payload, "after"});

  // Retention: files with no live batch go, and the dead batches of a file
  // that keeps live ones become holes.
  Truncate(*store, id, 300);
  REQUIRE(store->CompactTopicRange(id, 300).ok());
  CHECK(Eventually([&] { return SegmentBytes(dir) < (24u << 20); }));
  CHECK(SegmentBytes(dir) >= (21u << 20));  // 84 x 256 KiB stay
  CHECK(store->StorageBytes() < (26u << 20));
  auto kept = ReadAll(*store, id, 0);
  REQUIRE(kept.size() == 85);
  CHECK(kept.front() == payload);
  CHECK(kept.back() == "after");

  // A deleted topic's files go whole.
  std::promise<Status> deleted;
  store->DeleteTopic("t", [&](Status s) { deleted.set_value(s); });
  REQUIRE(deleted.get_future().get().ok());
  CHECK(Eventually([&] { return SegmentBytes(dir) == 0; }));
  store.reset();
  store = OpenStore(dir.str());
  CHECK(store->Topics().empty());
}

TEST_CASE("store: a restart cuts a topic's log where its batches are not whole in the newest segment file",
          "[unit][store]") {
  herald::test::TempDir dir;
  uint64_t id, other;
  {
    auto store = OpenStore(dir.str());
    id = CreateTopic(*store, "t").id;
    other = CreateTopic(*store, "u").id;
    for (int i = 0; i < 10; ++i) REQUIRE(Append(*store, id, {"m" + std::to_string(i)}).status.ok());
    REQUIRE(Append(*store, other, {"kept"}).status.ok());
    for (int i = 10; i < 20; ++i) REQUIRE(Append(*store, id, {"m" + std::to_string(i)}).status.ok());
  }
  // What a power loss can leave with --fsync interval: the index synced,
  // the segment file's last page not. Batch 15 and after are damaged.
  std::filesystem::path newest;
  for (const auto& e : std::filesystem::directory_iterator(dir / "journal"))
    if (e.path().extension() == ".seg" && e.path() > newest) newest = e.path();
  REQUIRE(!newest.empty());
  const auto size = std::filesystem::file_size(newest);
  std::filesystem::resize_file(newest, size - size / 4);

  auto store = OpenStore(dir.str());
  auto t = store->FindTopic(id);
  REQUIRE(t);
  CHECK(t->next_offset < 20);
  CHECK(t->next_offset >= 10);
  auto all = ReadAll(*store, id, 0);
  REQUIRE(all.size() == t->next_offset);
  CHECK(all.front() == "m0");
  CHECK(ReadAll(*store, other, 0) == std::vector<std::string>{"kept"});
  // The log goes on from the cut, densely.
  CHECK(Append(*store, id, {"next"}).base_offset == t->next_offset);
  CHECK(ReadAll(*store, id, t->next_offset) == std::vector<std::string>{"next"});
}

TEST_CASE("store: a crash image with nothing flushed recovers every completed write",
          "[unit][store]") {
  herald::test::TempDir live, image;
  uint64_t id;
  {
    auto store = OpenStore(live.str());
    id = CreateTopic(*store, "t").id;
    for (int i = 0; i < 100; ++i) REQUIRE(Append(*store, id, {"m" + std::to_string(i)}).status.ok());
    REQUIRE(SegmentBytes(live) > 0);
    // What a crash of the process leaves (kNever: the page cache has it).
    std::filesystem::copy(live.path(), image.path(),
                          std::filesystem::copy_options::recursive |
                              std::filesystem::copy_options::overwrite_existing);
  }
  auto store = OpenStore(image.str());
  auto topics = store->Topics();
  REQUIRE(topics.size() == 1);
  CHECK(topics[0].next_offset == 100);
  auto all = ReadAll(*store, id, 0);
  REQUIRE(all.size() == 100);
  CHECK(all[99] == "m99");
  CHECK(Append(*store, id, {"next"}).base_offset == 100);
}

TEST_CASE("store: a batch whose count disagrees with its header is refused before it is queued",
          "[unit][store]") {
  herald::test::TempDir dir;
  auto store = OpenStore(dir.str());
  const uint64_t id = CreateTopic(*store, "t").id;
  for (uint32_t count : {0u, 1u, 3u}) {
    AppendRequest req{id, 0, 0, count, Batch({"a", "b"})};
    AppendResult result;
    bool called = false;
    store->Append(std::move(req), [&](AppendResult r) {  // refused at once, on this thread
      result = std::move(r);
      called = true;
    });
    REQUIRE(called);
    CHECK(result.status.code() == ErrorCode::InvalidArgument);
  }
  // Nothing took an offset: the next batch starts at 0.
  CHECK(Append(*store, id, {"x"}).base_offset == 0);
}

namespace {

// Appends one batch of `count` messages with the broker time `timestamp_ms`.
void AppendAt(Store& store, uint64_t topic_id, uint32_t count, int64_t timestamp_ms) {
  RecordBatchBuilder b(count, timestamp_ms, 64);
  for (uint32_t i = 0; i < count; ++i) {
    b.StartRecord(nullptr, 0);
    b.FinishRecord("p");
  }
  std::promise<AppendResult> p;
  store.Append({topic_id, 0, 0, count, b.Finish()}, [&](AppendResult r) { p.set_value(std::move(r)); });
  REQUIRE(p.get_future().get().status.ok());
}

}  // namespace

TEST_CASE("store: OffsetForTime finds the first batch at or after a time by bisection", "[unit][store]") {
  herald::test::TempDir dir;
  auto store = OpenStore(dir.str());
  const uint64_t id = CreateTopic(*store, "t").id;
  CHECK(store->OffsetForTime(id, 0) == 0);  // empty: the next offset
  // 300 batches of 3 messages; batch i at time 1000 + 10 * (i / 2): pairs share a time.
  for (int i = 0; i < 300; ++i) AppendAt(*store, id, 3, 1000 + 10 * (i / 2));
  CHECK(store->OffsetForTime(id, 0) == 0);
  CHECK(store->OffsetForTime(id, 1000) == 0);
  for (int i = 0; i < 300; i += 2) {
    const int64_t t = 1000 + 10 * (i / 2);
    INFO("time " << t);
    CHECK(store->OffsetForTime(id, t) == static_cast<uint64_t>(3 * i));
    CHECK(store->OffsetForTime(id, t - 5) == static_cast<uint64_t>(3 * i));
    CHECK(store->BatchTimestampAt(id, 3 * i + 4) == t);
  }
  CHECK(store->OffsetForTime(id, 1000 + 10 * 150) == 900);  // after the last: the next offset
  CHECK_FALSE(store->BatchTimestampAt(id, 900).has_value());
  // After a truncation the answer starts at the topic's start.
  std::promise<Status> truncated;
  store->Truncate(id, 300, [&](Status s, TopicRecord, bool) { truncated.set_value(s); });
  REQUIRE(truncated.get_future().get().ok());
  CHECK(store->OffsetForTime(id, 0) == 300);
  CHECK(store->OffsetForTime(id, 1000 + 10 * 60) == 360);
}

TEST_CASE("store: OffsetForTime across a clock step back returns a batch where the time is crossed",
          "[unit][store]") {
  herald::test::TempDir dir;
  auto store = OpenStore(dir.str());
  const uint64_t id = CreateTopic(*store, "t").id;
  // Times 100, 200, 300, then the clock steps back: 150, 250, 350.
  for (int64_t t : {100, 200, 300, 150, 250, 350}) AppendAt(*store, id, 1, t);
  // Not necessarily the first batch at or after the time, but one whose
  // predecessor is before it (or the log's start).
  for (int64_t t : {120, 220, 260, 320}) {
    const uint64_t at = store->OffsetForTime(id, t);
    INFO("time " << t << " -> offset " << at);
    REQUIRE(at < 6);
    CHECK(*store->BatchTimestampAt(id, at) >= t);
    if (at > 0) CHECK(*store->BatchTimestampAt(id, at - 1) < t);
  }
  CHECK(store->OffsetForTime(id, 400) == 6);
}
