#pragma once
// The stored form of one Publish: a record batch, the value of one log key.
// Every message of a Publish shares the batch's broker timestamp and gets the
// offsets base_offset, base_offset+1, ... (the base offset is the key).
//
// Layout (integers little-endian; varints LEB128):
//   u8 format (=1) | u32 count | i64 timestamp_ms | count records
//   record := varint key_len_plus_one (0 = no key) | key
//             varint header_count | header_count x (varint len | name, varint len | value)
//             varint payload_len | payload
//
// A batch is immutable once built and shared (shared_ptr<const>) between the
// tail cache, every subscription holding one of its messages, and deliveries.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace herald::broker {

// A batch's broker timestamp, and the clock retention by age compares it with:
// wall-clock milliseconds since the Unix epoch.
int64_t BrokerTimestampMs();

struct RecordView {
  bool has_key = false;
  std::string_view key;
  uint32_t header_count = 0;
  std::string_view headers;  // encoded header block; see ForEachHeader
  std::string_view payload;
};

class RecordBatch {
 public:
  static constexpr uint8_t kFormat = 1;
  static constexpr std::size_t kHeaderBytes = 1 + 4 + 8;
  // The largest batch the storage layer takes: its location and summary
  // keep its length in 32 bits, and a journal record (also 32 bits) must
  // hold it next to the rest of its group commit. The broker's publish
  // limit (at most 256 MiB) keeps far below it.
  static constexpr std::size_t kMaxBytes = 1u << 30;

  // Parses a stored value; nullptr if it is corrupt.
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

// Builds one encoded batch, record by record.
class RecordBatchBuilder {
 public:
  // reserve_bytes: the records' encoded size, the sum of RecordBytes and
  // HeaderBytes over them, for a batch allocated once at its exact size.
  RecordBatchBuilder(uint32_t count, int64_t timestamp_ms, std::size_t reserve_bytes);

  // Encoded size of a record without its headers (key: nullptr for none),
  // and of one header.
  static std::size_t RecordBytes(const std::string_view* key, uint32_t header_count, std::size_t payload_size);
  static std::size_t HeaderBytes(std::size_t name_size, std::size_t value_size);

  // REQUIRES: exactly header_count AddHeader calls follow, then FinishRecord.
  void StartRecord(const std::string_view* key, uint32_t header_count);
  void AddHeader(std::string_view name, std::string_view value);
  void FinishRecord(std::string_view payload);

  std::string Finish() { return std::move(out_); }

 private:
  std::string out_;
};

}  // namespace herald::broker
