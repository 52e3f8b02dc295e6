#pragma once
// The record batch: the one layout a Publish carries, the broker stores and
// Deliver / FetchOk frames slice. The SDK builds it once, with its CRC; the
// broker checks it, writes its two fields into the fixed header, and keeps
// and serves the bytes as they came. No I/O here: SDK, broker and fuzzers
// link the same codec.
//
// Layout, format 2 (integers little-endian; varints LEB128):
//    0  u8      format (= 2)
//    1  u8[3]   reserved, 0
//    4  u32     length: bytes of the whole batch, this header included
//    8  u64     base_offset    } the broker's fields, written when the batch is
//   16  i64     timestamp_ms   } appended (0 from the producer); outside the CRC
//   24  u32     crc: CRC-32C of bytes [28, length)
//   28  u32     record count (at least 1)
//   32  records, one after the other:
//   record := varint key_len_plus_one (0 = no key) | key
//             varint header_count | header_count x (varint len | name, varint len | value)
//             varint payload_len | payload
//
// The broker's fields sit before the CRC'd range, so that filling them in
// leaves the producer's CRC valid: the broker never recomputes it, and the
// CRC a consumer could check is the producer's own. What protects the
// broker's fields on disk is the storage layer's own checksum of the stored
// bytes.
//
// Format 1, which brokers wrote before format 2 and still read from old data
// dirs: u8 format (= 1) | u32 count | i64 timestamp_ms | records (as above);
// its base offset is the log key it is stored under.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace herald::wire {

// One record of a batch, as views into the batch's bytes.
struct RecordView {
  bool has_key = false;
  std::string_view key;
  uint32_t header_count = 0;
  std::string_view headers;  // the encoded header block; read it with HeaderReader
  std::string_view payload;
  std::string_view bytes;    // the whole encoded record
};

// Walks an encoded header block.
class HeaderReader {
 public:
  HeaderReader(std::string_view block, uint32_t count) : block_(block), left_(count) {}
  // The next header; false at the end or if the block is corrupt (ok() says which).
  bool Next(std::string_view* name, std::string_view* value);
  bool ok() const { return ok_; }

 private:
  std::string_view block_;
  uint32_t left_;
  bool ok_ = true;
};

// Walks consecutive encoded records.
class RecordReader {
 public:
  explicit RecordReader(std::string_view records) : rest_(records) {}
  // The next record; false at the end or if the bytes are corrupt (ok() says which).
  bool Next(RecordView* out);
  bool ok() const { return ok_; }
  bool done() const { return rest_.empty(); }

 private:
  std::string_view rest_;
  bool ok_ = true;
};

namespace batch {

inline constexpr uint8_t kFormat = 2;
inline constexpr uint8_t kLegacyFormat = 1;
inline constexpr std::size_t kHeaderBytes = 32;
inline constexpr std::size_t kLegacyHeaderBytes = 1 + 4 + 8;
inline constexpr std::size_t kLengthOffset = 4;
inline constexpr std::size_t kBaseOffsetOffset = 8;
inline constexpr std::size_t kTimestampOffset = 16;
inline constexpr std::size_t kCrcOffset = 24;
inline constexpr std::size_t kCrcStart = 28;  // the CRC covers [kCrcStart, length)
inline constexpr std::size_t kCountOffset = 28;

// What a batch's header says, in either format.
struct Header {
  uint8_t format = 0;
  uint32_t count = 0;
  uint64_t base_offset = 0;  // format 1: not stored (0)
  int64_t timestamp_ms = 0;
  std::string_view records;  // the bytes after the header
};

// The header of a batch of either format, or nullopt if the bytes are too
// short for it, of an unknown format, or (format 2) not `length` bytes long.
// Checks neither the CRC nor the records.
std::optional<Header> ReadHeader(std::string_view bytes);

enum class Problem {
  kNone,
  kTruncated,      // shorter than its header
  kUnknownFormat,  // format byte is not 2, or the reserved bytes are not 0
  kBadLength,      // the length field is not the byte count
  kBadCrc,
  kNoRecords,      // record count 0
  kBadRecords,     // the records do not parse, or do not fill the batch exactly
  kBadCount,       // the records that parse are not `count` of them
};
const char* Describe(Problem p);

// Everything the broker checks before it trusts a format-2 batch from the
// wire: header, length, CRC, and exactly `count` well-formed records. The
// cost is one CRC pass and one walk over the record lengths. On kNone,
// *largest_payload (if given) is the largest payload of the batch.
Problem Check(std::string_view bytes, std::size_t* largest_payload = nullptr);

// Writes the broker's fields in place. REQUIRES: a format-2 batch (ReadHeader).
void SetBrokerFields(char* batch, uint64_t base_offset, int64_t timestamp_ms);

// The encoded size of a record without its headers (key: nullptr for none),
// and of one header. A batch is kHeaderBytes plus the sum over its records.
std::size_t RecordBytes(const std::string_view* key, uint32_t header_count, std::size_t payload_size);
std::size_t HeaderBytes(std::size_t name_size, std::size_t value_size);

// Encodes one batch, record by record, into a buffer of exactly its size
// (kHeaderBytes + RecordBytes + HeaderBytes of every record), so that it can
// be written straight into the frame that carries it.
class Writer {
 public:
  // REQUIRES: `out` holds `size` bytes; `count` records follow.
  Writer(char* out, std::size_t size, uint32_t count);

  // REQUIRES: exactly header_count AddHeader calls follow, then FinishRecord.
  void StartRecord(const std::string_view* key, uint32_t header_count);
  void AddHeader(std::string_view name, std::string_view value);
  void FinishRecord(std::string_view payload);

  // Computes the CRC. False if the records did not fill the buffer exactly
  // (the sizes given did not match what was written).
  bool Finish();

 private:
  void Put(const void* data, std::size_t n);
  void PutVarint(uint64_t v);
  char* begin_;
  char* p_;
  char* end_;
  bool overflow_ = false;
};

// A whole batch in a new string: for tests, tools and the broker's own
// messages (dead letters). The CRC is set; the broker fields are 0.
class StringBuilder {
 public:
  explicit StringBuilder(uint32_t count) : count_(count) {}
  void StartRecord(const std::string_view* key, uint32_t header_count);
  void AddHeader(std::string_view name, std::string_view value);
  void FinishRecord(std::string_view payload);
  std::string Finish();

 private:
  uint32_t count_;
  std::string records_;
};

}  // namespace batch
}  // namespace herald::wire
