#pragma once
// FakeLog: a topic log in memory, for testing the dispatcher (broker/dispatch)
// without a store. It keeps every batch it is given and reads them back the
// way the broker's TopicLog does: from max(from, earliest()), whole messages
// up to max_messages or about max_bytes of payload (the first always comes).
// By default every read is served from memory (ReadCached); with `cold` set,
// reads below end() go through ReadLater and wait, as reads of the disk do,
// until the test completes them (CompleteReads) with the log as it is then.

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/storage/log_reader.h"
#include "broker/storage/record_batch.h"

namespace herald::test {

class FakeLog final : public broker::LogReader {
 public:
  uint64_t earliest() const override { return earliest_; }
  uint64_t end() const override { return end_; }

  void OnAppended(std::shared_ptr<const broker::RecordBatch> batch) override {
    end_ = batch->end_offset();
    batches_.push_back(std::move(batch));
  }
  void OnTruncated(uint64_t earliest) override {
    earliest_ = std::max(earliest_, earliest);
    end_ = std::max(end_, earliest_);
  }
  std::optional<int64_t> CachedTimestampAt(uint64_t offset) override {
    for (const auto& b : batches_)
      if (offset >= std::max(earliest_, b->base_offset()) && offset < b->end_offset()) return b->timestamp_ms();
    return std::nullopt;
  }
  bool ReadCached(uint64_t from, std::size_t max_messages, std::size_t max_bytes,
                  std::vector<broker::MessageRef>* out) override {
    if (cold && std::max(from, earliest_) < end_) return false;
    ++reads;
    ReadNow(from, max_messages, max_bytes, out);
    return true;
  }
  void ReadLater(uint64_t from, std::size_t max_messages, std::size_t max_bytes, ReadDone done) override {
    pending_.push_back({from, max_messages, max_bytes, std::move(done)});
  }
  // Completes the reads started so far, in order, with the log as it is now
  // (an injected failure fails one); returns how many.
  std::size_t CompleteReads() {
    std::vector<Pending> now;
    now.swap(pending_);
    for (Pending& p : now) {
      ++reads;
      if (fail_reads > 0) {
        --fail_reads;
        p.done({wire::ErrorCode::StorageError, "injected read failure"}, {});
        continue;
      }
      std::vector<broker::MessageRef> out;
      ReadNow(p.from, p.max_messages, p.max_bytes, &out);
      p.done(broker::Status::Ok(), std::move(out));
    }
    return now.size();
  }
  std::size_t pending_reads() const { return pending_.size(); }

  // One message per key ("" = no key), each with `payload`, as a batch at `base`.
  static std::shared_ptr<const broker::RecordBatch> MakeBatch(uint64_t base, const std::vector<std::string>& keys,
                                                             std::string_view payload = "payload") {
    broker::RecordBatchBuilder builder(static_cast<uint32_t>(keys.size()), broker::BrokerTimestampMs(), 64);
    for (const auto& k : keys) {
      std::string_view key = k;
      builder.StartRecord(k.empty() ? nullptr : &key, 0);
      builder.FinishRecord(payload);
    }
    return broker::RecordBatch::Parse(base, builder.Finish());
  }
  // Appends MakeBatch(end(), keys, payload); returns its first offset.
  uint64_t Append(const std::vector<std::string>& keys, std::string_view payload = "payload") {
    const uint64_t base = end_;
    OnAppended(MakeBatch(base, keys, payload));
    return base;
  }

  int reads = 0;       // reads served so far (from memory, or completed later)
  int fail_reads = 0;  // the next this many completed ReadLater calls fail with StorageError
  bool cold = false;   // reads below end() wait for CompleteReads

 private:
  struct Pending {
    uint64_t from;
    std::size_t max_messages;
    std::size_t max_bytes;
    ReadDone done;
  };

  void ReadNow(uint64_t from, std::size_t max_messages, std::size_t max_bytes,
               std::vector<broker::MessageRef>* out) const {
    from = std::max(from, earliest_);
    std::size_t taken = 0, bytes = 0;
    for (const auto& b : batches_) {
      for (uint64_t o = std::max(from, b->base_offset()); o < b->end_offset(); ++o) {
        if (taken == max_messages || bytes >= max_bytes) return;
        const auto index = static_cast<uint32_t>(o - b->base_offset());
        out->push_back({b, index});
        ++taken;
        bytes += b->record(index).payload.size();
      }
    }
  }

  std::vector<Pending> pending_;
  uint64_t earliest_ = 0;
  uint64_t end_ = 0;
  std::vector<std::shared_ptr<const broker::RecordBatch>> batches_;
};

}  // namespace herald::test
