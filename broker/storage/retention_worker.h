#pragma once
// RetentionWorker: enforces every topic's retention limits in the background.
//
// Every interval it walks each topic's batch index (a few bytes per batch,
// never the payloads) from the earliest batch on, finds the first batch that
// may stay, and asks the storage thread to truncate below it. The truncation
// itself is one small WriteBatch with range deletions, queued behind
// publishes like any other write, so publishes and deliveries do not stall.
// The disk space is given back by compacting the deleted range afterwards,
// here, off the storage thread.
//
// Limits apply to whole record batches (one Publish each), the way Kafka
// applies them to whole segments. For count and bytes, the oldest batches go
// while the topic is above the limit, so it ends at or below it (a topic of
// one 10-message batch with a limit of 5 keeps nothing). For age, a batch
// goes once its broker timestamp is older than the limit.
//
// Thread: its own. on_truncated runs there too; the broker posts it onward.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>

#include "broker/storage/store.h"

namespace herald::broker {

// The offset below which a topic's batches are past its limits at now_ms,
// from the topic's batch summaries (in offset order, from its earliest).
// Returns record.earliest_offset when nothing is to go.
uint64_t RetentionCut(const TopicRecord& record, int64_t now_ms,
                      const std::function<bool(uint64_t from, std::vector<BatchSummary>*)>& read);

class RetentionWorker {
 public:
  using TruncatedFn = std::function<void(uint64_t topic_id, uint64_t earliest)>;

  // *store must outlive the worker.
  RetentionWorker(Store* store, std::chrono::milliseconds interval, TruncatedFn on_truncated);
  ~RetentionWorker();  // stops and joins

  void Start();
  // Gives back the space of a range already truncated (a purge); runs soon.
  void Compact(uint64_t topic_id, uint64_t before);
  // Runs a pass now (after a topic's retention changed).
  void Wake();

 private:
  void Run();
  void Pass();
  uint64_t Truncate(uint64_t topic_id, uint64_t before);  // returns the new earliest

  Store* store_;
  std::chrono::milliseconds interval_;
  TruncatedFn on_truncated_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;                              // GUARDED_BY(mu_)
  bool wake_ = false;                                  // GUARDED_BY(mu_)
  std::deque<std::pair<uint64_t, uint64_t>> compact_;  // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace herald::broker
