#pragma once
// Where a stored batch's bytes are: the value of its log key.
//
// A batch is written once, into the segment log (segment_log.h), and its
// log key in RocksDB holds only its location there. When RocksDB held the
// batches, its WAL had them, the memtable a copy, and a flush wrote them
// again into an SST file: each published byte went to the disk twice, and a
// pipelined 1 KiB burst was bound by the disk's bandwidth (429 MB written
// for 200 MB published).
//
// Layout (little-endian):
//   u8 tag (0xB1) | u64 file | u64 offset | u32 length | u32 crc32c | u32 count | i64 timestamp_ms
// A value that does not start with the tag is a batch stored whole, as
// brokers before this layout wrote them (its first byte is RecordBatch::kFormat).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "broker/storage/record_batch.h"
#include "broker/storage/varint.h"

namespace herald::broker {

struct BatchLocation {
  static constexpr uint8_t kTag = 0xB1;
  static constexpr std::size_t kEncodedBytes = 1 + 8 + 8 + 4 + 4 + 4 + 8;
  static_assert(kTag != RecordBatch::kFormat);

  uint64_t file = 0;    // segment file number
  uint64_t offset = 0;  // of the batch's first byte in that file
  uint32_t length = 0;
  uint32_t crc = 0;     // crc32c of the batch's bytes
  uint32_t count = 0;
  int64_t timestamp_ms = 0;

  using Encoded = codec::SmallBytes<kEncodedBytes>;
  Encoded Encode() const {
    Encoded v;
    v.push_back(static_cast<char>(kTag));
    codec::PutFixed64(&v, file);
    codec::PutFixed64(&v, offset);
    codec::PutFixed32(&v, length);
    codec::PutFixed32(&v, crc);
    codec::PutFixed32(&v, count);
    codec::PutFixed64(&v, static_cast<uint64_t>(timestamp_ms));
    return v;
  }

  static bool IsLocation(std::string_view value) {
    return !value.empty() && static_cast<uint8_t>(value[0]) == kTag;
  }

  static std::optional<BatchLocation> Decode(std::string_view value) {
    if (value.size() != kEncodedBytes || !IsLocation(value)) return std::nullopt;
    codec::Reader in(value.substr(1));
    BatchLocation l;
    l.file = in.Fixed64();
    l.offset = in.Fixed64();
    l.length = in.Fixed32();
    l.crc = in.Fixed32();
    l.count = in.Fixed32();
    l.timestamp_ms = static_cast<int64_t>(in.Fixed64());
    if (!in.ok() || l.count == 0) return std::nullopt;
    return l;
  }
};

// The message count, byte size and timestamp of a log value of either kind;
// count 0 if it is corrupt.
struct StoredBatchFacts {
  uint32_t count = 0;
  uint32_t bytes = 0;
  int64_t timestamp_ms = 0;
};

inline StoredBatchFacts FactsOfLogValue(std::string_view value) {
  if (BatchLocation::IsLocation(value)) {
    auto l = BatchLocation::Decode(value);
    if (!l) return {};
    return {l->count, l->length, l->timestamp_ms};
  }
  return {RecordBatch::PeekCount(value), static_cast<uint32_t>(value.size()),
          RecordBatch::PeekTimestamp(value)};
}

}  // namespace herald::broker
