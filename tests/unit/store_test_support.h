#pragma once
// The store unit tests' helpers: a store in a temp dir with --fsync never,
// and blocking wrappers around its asynchronous operations.

#include <algorithm>
#include <future>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include <catch2/catch.hpp>

#include "broker/logging.h"
#include "broker/storage/record_batch.h"
#include "broker/storage/store.h"

namespace herald::broker::test {

inline std::unique_ptr<Store> OpenStore(const std::string& dir) {
  EnsureLoggers();
  std::unique_ptr<Store> store;
  Status s = Store::Open({dir, FsyncPolicy::kNever, std::chrono::milliseconds(100)}, &store);
  REQUIRE(s.ok());
  return store;
}

inline TopicRecord CreateTopic(Store& store, const std::string& name, bool* created = nullptr) {
  std::promise<std::tuple<Status, TopicRecord, bool>> p;
  store.CreateTopic(name, {}, [&](Status s, TopicRecord r, bool c) { p.set_value({s, r, c}); });
  auto [status, record, was_created] = p.get_future().get();
  REQUIRE(status.ok());
  if (created) *created = was_created;
  return record;
}

inline std::string Batch(std::initializer_list<std::string_view> payloads) {
  RecordBatchBuilder b(static_cast<uint32_t>(payloads.size()), 42, 64);
  for (auto p : payloads) {
    b.StartRecord(nullptr, 0);
    b.FinishRecord(p);
  }
  return b.Finish();
}

inline AppendResult Append(Store& store, uint64_t topic_id, std::initializer_list<std::string_view> payloads,
                    uint64_t producer = 0, uint64_t sequence = 0) {
  AppendRequest req{topic_id, producer, sequence, static_cast<uint32_t>(payloads.size()),
                    Batch(payloads)};
  std::promise<AppendResult> p;
  store.Append(std::move(req), [&](AppendResult r) { p.set_value(std::move(r)); });
  return p.get_future().get();
}

inline std::vector<std::string> ReadAll(Store& store, uint64_t topic_id, uint64_t from) {
  std::vector<std::shared_ptr<const RecordBatch>> batches;
  REQUIRE(store.ReadBatches(topic_id, from, ~std::size_t{0}, 1u << 30, &batches).ok());
  std::vector<std::string> out;
  for (const auto& b : batches)
    for (uint64_t o = std::max(from, b->base_offset()); o < b->end_offset(); ++o)
      out.emplace_back(b->record(static_cast<uint32_t>(o - b->base_offset())).payload);
  return out;
}

}  // namespace herald::broker::test
