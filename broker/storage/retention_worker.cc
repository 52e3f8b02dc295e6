#include "broker/storage/retention_worker.h"

#include <future>

#include <spdlog/spdlog.h>

#include "broker/storage/record_batch.h"
#include "schemas/thread_name.h"

namespace herald::broker {

namespace {

constexpr std::size_t kIndexChunk = 4096;

}  // namespace

uint64_t RetentionCut(const TopicRecord& record, int64_t now_ms,
                      const std::function<bool(uint64_t from, std::vector<BatchSummary>*)>& read) {
  const RetentionPolicy& r = record.retention;
  if (r.max_age_ms == 0 && r.max_bytes == 0 && r.max_messages == 0) return record.earliest_offset;
  uint64_t messages = record.next_offset - record.earliest_offset;
  uint64_t bytes = record.bytes;
  uint64_t from = record.earliest_offset;
  // A max age a client may set up to 2^64-1 ms; one reaching back before the
  // epoch keeps everything (and must not overflow the subtraction).
  int64_t oldest_allowed = INT64_MIN;
  if (r.max_age_ms != 0 && now_ms > 0 && r.max_age_ms < static_cast<uint64_t>(now_ms)) {
    oldest_allowed = now_ms - static_cast<int64_t>(r.max_age_ms);
  }
  for (;;) {
    std::vector<BatchSummary> batches;
    if (!read(from, &batches) || batches.empty()) return from;
    for (const BatchSummary& b : batches) {
      if (b.base_offset >= record.next_offset) return b.base_offset;
      bool too_old = b.timestamp_ms < oldest_allowed;
      bool too_big = r.max_bytes != 0 && bytes > r.max_bytes;
      bool too_many = r.max_messages != 0 && messages > r.max_messages;
      if (!too_old && !too_big && !too_many) return std::max(from, b.base_offset);
      bytes -= std::min<uint64_t>(bytes, b.bytes);
      messages -= std::min<uint64_t>(messages, b.end_offset() - std::max(b.base_offset, from));
      from = b.end_offset();
    }
  }
}

RetentionWorker::RetentionWorker(Store* store, std::chrono::milliseconds interval,
                                 TruncatedFn on_truncated)
    : store_(store), interval_(interval), on_truncated_(std::move(on_truncated)) {}

RetentionWorker::~RetentionWorker() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void RetentionWorker::Start() { thread_ = std::thread([this] {
    NameThisThread("retention");
    Run();
  }); }

void RetentionWorker::Compact(uint64_t topic_id, uint64_t before) {
  {
    std::lock_guard lock(mu_);
    compact_.emplace_back(topic_id, before);
  }
  cv_.notify_one();
}

void RetentionWorker::Wake() {
  {
    std::lock_guard lock(mu_);
    wake_ = true;
  }
  cv_.notify_one();
}

void RetentionWorker::Run() {
  auto next_pass = std::chrono::steady_clock::now() + interval_;
  for (;;) {
    std::deque<std::pair<uint64_t, uint64_t>> compact;
    bool pass = false;
    {
      std::unique_lock lock(mu_);
      cv_.wait_until(lock, next_pass, [&] { return stopping_ || wake_ || !compact_.empty(); });
      if (stopping_) return;
      compact.swap(compact_);
      pass = std::exchange(wake_, false) || std::chrono::steady_clock::now() >= next_pass;
    }
    for (const auto& [topic_id, before] : compact) {
      Status s = store_->CompactTopicRange(topic_id, before);
      if (!s.ok()) spdlog::get("storage")->warn("compacting topic {}: {}", topic_id, s.message());
    }
    if (pass) {
      Pass();
      next_pass = std::chrono::steady_clock::now() + interval_;
    }
  }
}

void RetentionWorker::Pass() {
  const int64_t now = BrokerTimestampMs();
  for (const TopicRecord& topic : store_->Topics()) {
    uint64_t cut = RetentionCut(topic, now, [&](uint64_t from, std::vector<BatchSummary>* out) {
      Status s = store_->ListBatches(topic.id, from, kIndexChunk, out);
      if (!s.ok()) spdlog::get("storage")->error("retention of {}: {}", topic.name, s.message());
      return s.ok();
    });
    if (cut <= topic.earliest_offset) continue;
    uint64_t earliest = Truncate(topic.id, cut);
    if (earliest <= topic.earliest_offset) continue;
    spdlog::get("storage")->info("retention: topic {} now starts at {} ({} messages removed)",
                                 topic.name, earliest, earliest - topic.earliest_offset);
    on_truncated_(topic.id, earliest);
    Status s = store_->CompactTopicRange(topic.id, earliest);
    if (!s.ok()) spdlog::get("storage")->warn("compacting {}: {}", topic.name, s.message());
  }
}

uint64_t RetentionWorker::Truncate(uint64_t topic_id, uint64_t before) {
  std::promise<uint64_t> result;
  store_->Truncate(topic_id, before, [&](Status s, TopicRecord record, bool) {
    if (!s.ok()) spdlog::get("storage")->error("retention truncate failed: {}", s.message());
    result.set_value(s.ok() ? record.earliest_offset : 0);
  });
  return result.get_future().get();
}

}  // namespace herald::broker
