#include "broker/storage/topic_log.h"

#include <future>
#include <memory>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "broker/logging.h"
#include "broker/storage/store.h"
#include "manual_reads.h"
#include "tests/support/temp_dir.h"

using namespace herald::broker;
namespace wire = herald::wire;
using namespace std::chrono_literals;

namespace {

// A topic log on a real store whose tail cache keeps only the newest batch
// (unless told otherwise), so that reads of anything older go to the store,
// through reader jobs the test runs itself.
struct Fixture {
  herald::test::TempDir dir;
  std::unique_ptr<Store> store;
  herald::test::ManualReads reads;
  std::unique_ptr<TopicLog> log;
  uint64_t topic_id = 0;

  explicit Fixture(std::size_t tail_cache_bytes = 1) {
    EnsureLoggers();
    REQUIRE(Store::Open({dir.str(), FsyncPolicy::kNever, 100ms}, &store).ok());
    std::promise<TopicRecord> p;
    store->CreateTopic("t", {}, [&](Status, TopicRecord r, bool) { p.set_value(r); });
    topic_id = p.get_future().get().id;
    log = std::make_unique<TopicLog>(store.get(), &reads, topic_id, 0, 0, tail_cache_bytes);
  }

  // Appends `count` keyless messages as one batch through the store, and
  // hands it to the log unless `tell_log` is false (committed, not yet
  // handed over by the I/O thread).
  void Append(uint32_t count, bool tell_log = true) {
    RecordBatchBuilder b(count, 1, 64);
    for (uint32_t i = 0; i < count; ++i) {
      b.StartRecord(nullptr, 0);
      b.FinishRecord("payload");
    }
    std::promise<AppendResult> p;
    store->Append({topic_id, 0, 0, count, b.Finish()}, [&](AppendResult r) { p.set_value(std::move(r)); });
    AppendResult r = p.get_future().get();
    REQUIRE(r.status.ok());
    if (tell_log) log->OnAppended(r.batch);
  }

  // Reads as the dispatcher does: from memory if it can, else later, here
  // at once (the reader job and its completion).
  Status Read(uint64_t from, std::size_t max_messages, std::size_t max_bytes, std::vector<MessageRef>* out) {
    if (log->ReadCached(from, max_messages, max_bytes, out)) return Status::Ok();
    Status result(wire::ErrorCode::Internal, "not completed");
    log->ReadLater(from, max_messages, max_bytes, [&](Status s, std::vector<MessageRef> got) {
      result = std::move(s);
      for (auto& m : got) out->push_back(std::move(m));
    });
    REQUIRE(reads.RunAll() == 1);
    return result;
  }
};

}  // namespace

TEST_CASE("topic_log: reads stored batches and the tail cache as one ordered log", "[unit][topic_log]") {
  Fixture f;
  for (int b = 0; b < 20; ++b) f.Append(7);
  REQUIRE(f.log->end() == 140);
  for (uint64_t from : {0u, 3u, 69u, 133u, 139u}) {
    for (std::size_t chunk : {1u, 5u, 1000u}) {
      std::vector<MessageRef> got;
      uint64_t next = from;
      while (next < f.log->end()) {
        std::size_t before = got.size();
        REQUIRE(f.Read(next, chunk, 1u << 20, &got).ok());
        REQUIRE(got.size() > before);
        next = got.back().offset() + 1;
      }
      INFO("from " << from << " in chunks of " << chunk);
      REQUIRE(got.size() == 140 - from);
      for (std::size_t i = 0; i < got.size(); ++i) REQUIRE(got[i].offset() == from + i);
    }
  }
  std::vector<MessageRef> none;
  REQUIRE(f.Read(140, 10, 1u << 20, &none).ok());
  CHECK(none.empty());
}

TEST_CASE("topic_log: one read may span more stored batches than the read cache keeps", "[unit][topic_log]") {
  Fixture f;
  for (int b = 0; b < 5000; ++b) f.Append(1);  // 5,000 one-message batches
  std::vector<MessageRef> got;
  REQUIRE(f.Read(0, 4999, 1u << 30, &got).ok());
  REQUIRE(got.size() == 4999);
  for (std::size_t i = 0; i < got.size(); ++i) REQUIRE(got[i].offset() == i);
}

TEST_CASE("topic_log: the tail is read from memory, without a reader job", "[unit][topic_log]") {
  Fixture f(/*tail_cache_bytes=*/1u << 20);
  for (int b = 0; b < 3; ++b) f.Append(4);
  std::vector<MessageRef> got;
  REQUIRE(f.log->ReadCached(0, 100, 1u << 20, &got));
  CHECK(got.size() == 12);
  CHECK(f.reads.pending() == 0);
  CHECK(f.log->CachedTimestampAt(5) == got[5].timestamp_ms());
  CHECK_FALSE(f.log->CachedTimestampAt(12).has_value());
}

TEST_CASE("topic_log: a cold read is not answered from memory, and keeps what it read", "[unit][topic_log]") {
  Fixture f;
  for (int b = 0; b < 4; ++b) f.Append(5);
  std::vector<MessageRef> got;
  CHECK_FALSE(f.log->ReadCached(0, 100, 1u << 20, &got));
  CHECK(got.empty());
  CHECK_FALSE(f.log->CachedTimestampAt(0).has_value());
  REQUIRE(f.Read(0, 100, 1u << 20, &got).ok());
  CHECK(got.size() == 20);
  // What the reader read is in the read cache now.
  std::vector<MessageRef> again;
  REQUIRE(f.log->ReadCached(3, 100, 1u << 20, &again));
  CHECK(again.size() == 17);
  CHECK(f.log->CachedTimestampAt(0).has_value());
}

TEST_CASE("topic_log: a read completes with the log as it is when it comes back", "[unit][topic_log]") {
  Fixture f;
  for (int b = 0; b < 4; ++b) f.Append(5);  // offsets 0..19
  Status status(wire::ErrorCode::Internal, "not completed");
  std::vector<MessageRef> got;
  f.log->ReadLater(0, 100, 1u << 20, [&](Status s, std::vector<MessageRef> read) {
    status = std::move(s);
    got = std::move(read);
  });
  CHECK(got.empty());
  f.Append(5, /*tell_log=*/false);  // committed, not handed to the log yet
  f.reads.RunJobsOnly();              // the reader reads 0..24 from the store
  f.log->OnTruncated(10);             // meanwhile retention removed 0..9
  CHECK(got.empty());
  f.reads.RunCompletions();
  REQUIRE(status.ok());
  REQUIRE(got.size() == 10);
  for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i].offset() == 10 + i);
}

TEST_CASE("topic_log: a read that comes back after its log is gone says so", "[unit][topic_log]") {
  Fixture f;
  for (int b = 0; b < 2; ++b) f.Append(5);
  bool done = false;
  f.log->ReadLater(0, 100, 1u << 20, [&](Status s, std::vector<MessageRef> read) {
    done = true;
    CHECK(s.code() == wire::ErrorCode::TopicNotFound);
    CHECK(read.empty());
  });
  f.reads.RunJobsOnly();
  f.log.reset();  // the topic was deleted
  f.reads.RunCompletions();
  CHECK(done);
}
