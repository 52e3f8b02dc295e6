#pragma once
// The broker's handle on one stored record batch: its bytes as they came
// (schemas/record_batch.h has the layout) plus an index of its records.
// Every message of a batch shares its broker timestamp and gets the offsets
// base_offset, base_offset+1, ... (the base offset is also its log key).
//
// A batch is immutable once stored and shared (shared_ptr<const>) between
// the tail cache, every subscription holding one of its messages, and
// deliveries, which send slices of its bytes.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "schemas/record_batch.h"

namespace herald::broker {

// A batch's broker timestamp, and the clock retention by age compares it with:
// wall-clock milliseconds since the Unix epoch.
int64_t BrokerTimestampMs();

using RecordView = wire::RecordView;

class RecordBatch {
 public:
  // The first byte of a batch of each format (schemas/record_batch.h).
  static constexpr uint8_t kFormat = wire::batch::kFormat;
  static constexpr uint8_t kLegacyFormat = wire::batch::kLegacyFormat;
  // The largest batch the storage layer takes: its location and summary
  // keep its length in 32 bits, and a journal record (also 32 bits) must
  // hold it next to the rest of its group commit. The broker's publish
  // limit (at most 256 MiB) keeps far below it.
  static constexpr std::size_t kMaxBytes = 1u << 30;

  // Indexes a stored value of either format (format 1 from older data
  // dirs); nullptr if it is corrupt. base_offset: the log key it is stored
  // under. The CRC is not checked again: the broker checked it on receipt,
  // and the storage layer checks its own over the stored bytes.
  static std::shared_ptr<const RecordBatch> Parse(uint64_t base_offset, std::string bytes);
  // Reads only the record count of an encoded batch; 0 if it is corrupt.
  static uint32_t PeekCount(std::string_view bytes);
  // Reads only the timestamp of an encoded batch; 0 if it is corrupt.
  static int64_t PeekTimestamp(std::string_view bytes);

  uint64_t base_offset() const { return base_offset_; }
  uint64_t end_offset() const { return base_offset_ + records_.size(); }
  uint32_t count() const { return static_cast<uint32_t>(records_.size()); }
  int64_t timestamp_ms() const { return timestamp_ms_; }
  const RecordView& record(uint32_t index) const { return records_[index]; }
  const std::string& bytes() const { return bytes_; }

 private:
  RecordBatch() = default;
  uint64_t base_offset_ = 0;
  int64_t timestamp_ms_ = 0;
  std::string bytes_;
  std::vector<RecordView> records_;
};

// Calls fn(name, value) for each header of an encoded header block. Returns
// false if the block is corrupt.
bool ForEachHeader(std::string_view block, uint32_t count,
                   const std::function<void(std::string_view, std::string_view)>& fn);

// Builds one format-2 batch, record by record: the broker's own messages
// (dead letters) and tests. Producers' batches come built from the SDK.
class RecordBatchBuilder {
 public:
  // timestamp_ms: the broker timestamp to store; 0 lets the storage thread
  // stamp the batch when it commits it. reserve_bytes: the records' encoded
  // size, if known (0: grow as needed).
  RecordBatchBuilder(uint32_t count, int64_t timestamp_ms, std::size_t reserve_bytes);

  static std::size_t RecordBytes(const std::string_view* key, uint32_t header_count, std::size_t payload_size) {
    return wire::batch::RecordBytes(key, header_count, payload_size);
  }
  static std::size_t HeaderBytes(std::size_t name_size, std::size_t value_size) {
    return wire::batch::HeaderBytes(name_size, value_size);
  }

  // REQUIRES: exactly header_count AddHeader calls follow, then FinishRecord.
  void StartRecord(const std::string_view* key, uint32_t header_count) { builder_.StartRecord(key, header_count); }
  void AddHeader(std::string_view name, std::string_view value) { builder_.AddHeader(name, value); }
  void FinishRecord(std::string_view payload) { builder_.FinishRecord(payload); }

  std::string Finish();

 private:
  int64_t timestamp_ms_;
  wire::batch::StringBuilder builder_;
};

}  // namespace herald::broker
