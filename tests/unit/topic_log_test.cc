#include "broker/storage/topic_log.h"

#include <future>
#include <memory>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "broker/logging.h"
#include "broker/storage/store.h"
#include "tests/support/temp_dir.h"

using namespace herald::broker;
using namespace std::chrono_literals;

namespace {

// A topic log on a real store whose tail cache keeps only the newest batch,
// so that reads of anything older go to the store.
struct Fixture {
  herald::test::TempDir dir;
  std::unique_ptr<Store> store;
  std::unique_ptr<TopicLog> log;
  uint64_t topic_id = 0;

  Fixture() {
    EnsureLoggers();
    REQUIRE(Store::Open({dir.str(), FsyncPolicy::kNever, 100ms}, &store).ok());
    std::promise<TopicRecord> p;
    store->CreateTopic("t", {}, [&](Status, TopicRecord r, bool) { p.set_value(r); });
    topic_id = p.get_future().get().id;
    log = std::make_unique<TopicLog>(store.get(), topic_id, 0, 0, /*tail_cache_bytes=*/1);
  }

  // Appends one keyless message per entry of `count` through the store.
  void Append(uint32_t count) {
    RecordBatchBuilder b(count, 1, 64);
    for (uint32_t i = 0; i < count; ++i) {
      b.StartRecord(nullptr, 0);
      b.FinishRecord("payload");
    }
    std::promise<AppendResult> p;
    store->Append({topic_id, 0, 0, count, b.Finish()}, [&](AppendResult r) { p.set_value(std::move(r)); });
    AppendResult r = p.get_future().get();
    REQUIRE(r.status.ok());
    log->OnAppended(r.batch);
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
        REQUIRE(f.log->Read(next, chunk, 1u << 20, &got).ok());
        REQUIRE(got.size() > before);
        next = got.back().offset() + 1;
      }
      INFO("from " << from << " in chunks of " << chunk);
      REQUIRE(got.size() == 140 - from);
      for (std::size_t i = 0; i < got.size(); ++i) REQUIRE(got[i].offset() == from + i);
    }
  }
  std::vector<MessageRef> none;
  REQUIRE(f.log->Read(140, 10, 1u << 20, &none).ok());
  CHECK(none.empty());
}

TEST_CASE("topic_log: one read may span more stored batches than the read cache keeps", "[unit][topic_log]") {
  Fixture f;
  for (int b = 0; b < 5000; ++b) f.Append(1);  // 5,000 one-message batches
  std::vector<MessageRef> got;
  REQUIRE(f.log->Read(0, 4999, 1u << 30, &got).ok());
  REQUIRE(got.size() == 4999);
  for (std::size_t i = 0; i < got.size(); ++i) REQUIRE(got[i].offset() == i);
}
