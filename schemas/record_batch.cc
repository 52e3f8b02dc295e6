#include "schemas/record_batch.h"

#include <cstring>

#include "schemas/crc32c.h"
#include "schemas/varint.h"

namespace herald::wire {

namespace {

uint32_t LoadFixed32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

uint64_t LoadFixed64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

void StoreFixed32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>(v >> (8 * i));
}

void StoreFixed64(char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>(v >> (8 * i));
}

}  // namespace

bool HeaderReader::Next(std::string_view* name, std::string_view* value) {
  if (!ok_) return false;
  if (left_ == 0) {
    ok_ = block_.empty();
    return false;
  }
  codec::Reader in(block_);
  *name = in.LengthPrefixed();
  *value = in.LengthPrefixed();
  if (!in.ok()) {
    ok_ = false;
    return false;
  }
  block_.remove_prefix(static_cast<std::size_t>(in.position() - block_.data()));
  --left_;
  return true;
}

bool RecordReader::Next(RecordView* r) {
  if (!ok_ || rest_.empty()) return false;
  codec::Reader in(rest_);
  const uint64_t key_field = in.Varint();
  r->has_key = key_field != 0;
  r->key = r->has_key ? in.Bytes(key_field - 1) : std::string_view();
  const uint64_t header_count = in.Varint();
  // Each header takes at least two bytes: a count above what is left is corrupt.
  if (!in.ok() || header_count > rest_.size() / 2) {
    ok_ = false;
    return false;
  }
  r->header_count = static_cast<uint32_t>(header_count);
  const char* headers_begin = in.position();
  for (uint32_t h = 0; h < r->header_count && in.ok(); ++h) {
    in.LengthPrefixed();  // name
    in.LengthPrefixed();  // value
  }
  if (!in.ok()) {
    ok_ = false;
    return false;
  }
  r->headers = std::string_view(headers_begin, static_cast<std::size_t>(in.position() - headers_begin));
  r->payload = in.LengthPrefixed();
  if (!in.ok()) {
    ok_ = false;
    return false;
  }
  const auto used = static_cast<std::size_t>(in.position() - rest_.data());
  r->bytes = rest_.substr(0, used);
  rest_.remove_prefix(used);
  return true;
}

namespace batch {

std::optional<Header> ReadHeader(std::string_view bytes) {
  if (bytes.empty()) return std::nullopt;
  Header h;
  h.format = static_cast<uint8_t>(bytes[0]);
  if (h.format == kFormat) {
    if (bytes.size() < kHeaderBytes || LoadFixed32(bytes.data() + kLengthOffset) != bytes.size()) {
      return std::nullopt;
    }
    h.base_offset = LoadFixed64(bytes.data() + kBaseOffsetOffset);
    h.timestamp_ms = static_cast<int64_t>(LoadFixed64(bytes.data() + kTimestampOffset));
    h.count = LoadFixed32(bytes.data() + kCountOffset);
    h.records = bytes.substr(kHeaderBytes);
    return h;
  }
  if (h.format == kLegacyFormat) {
    if (bytes.size() < kLegacyHeaderBytes) return std::nullopt;
    h.count = LoadFixed32(bytes.data() + 1);
    h.timestamp_ms = static_cast<int64_t>(LoadFixed64(bytes.data() + 5));
    h.records = bytes.substr(kLegacyHeaderBytes);
    return h;
  }
  return std::nullopt;
}

const char* Describe(Problem p) {
  switch (p) {
    case Problem::kNone: return "valid";
    case Problem::kTruncated: return "shorter than the batch header";
    case Problem::kUnknownFormat: return "not a format-2 record batch";
    case Problem::kBadLength: return "the batch length does not match its bytes";
    case Problem::kBadCrc: return "the batch CRC does not match its bytes";
    case Problem::kNoRecords: return "the batch has no records";
    case Problem::kBadRecords: return "the batch's records are corrupt";
    case Problem::kBadCount: return "the batch holds a different number of records than it says";
  }
  return "invalid";
}

Problem Check(std::string_view bytes, std::size_t* largest_payload) {
  if (bytes.size() < kHeaderBytes) return Problem::kTruncated;
  if (static_cast<uint8_t>(bytes[0]) != kFormat || bytes[1] != 0 || bytes[2] != 0 || bytes[3] != 0) {
    return Problem::kUnknownFormat;
  }
  if (LoadFixed32(bytes.data() + kLengthOffset) != bytes.size()) return Problem::kBadLength;
  const uint32_t crc = crc32c::Extend(0, bytes.data() + kCrcStart, bytes.size() - kCrcStart);
  if (crc != LoadFixed32(bytes.data() + kCrcOffset)) return Problem::kBadCrc;
  const uint32_t count = LoadFixed32(bytes.data() + kCountOffset);
  if (count == 0) return Problem::kNoRecords;
  RecordReader records(bytes.substr(kHeaderBytes));
  RecordView r;
  uint64_t seen = 0;
  std::size_t largest = 0;
  while (seen <= count && records.Next(&r)) {
    ++seen;
    if (r.payload.size() > largest) largest = r.payload.size();
  }
  if (!records.ok()) return Problem::kBadRecords;
  if (seen != count || !records.done()) return Problem::kBadCount;
  if (largest_payload != nullptr) *largest_payload = largest;
  return Problem::kNone;
}

void SetBrokerFields(char* batch, uint64_t base_offset, int64_t timestamp_ms) {
  StoreFixed64(batch + kBaseOffsetOffset, base_offset);
  StoreFixed64(batch + kTimestampOffset, static_cast<uint64_t>(timestamp_ms));
}

std::size_t RecordBytes(const std::string_view* key, uint32_t header_count, std::size_t payload_size) {
  const std::size_t key_field = key == nullptr ? 0 : key->size() + 1;
  return codec::VarintLength(key_field) + (key == nullptr ? 0 : key->size()) +
         codec::VarintLength(header_count) + codec::VarintLength(payload_size) + payload_size;
}

std::size_t HeaderBytes(std::size_t name_size, std::size_t value_size) {
  return codec::VarintLength(name_size) + name_size + codec::VarintLength(value_size) + value_size;
}

Writer::Writer(char* out, std::size_t size, uint32_t count)
    : begin_(out), p_(out + kHeaderBytes), end_(out + size) {
  if (size < kHeaderBytes) {
    overflow_ = true;
    p_ = end_;
    return;
  }
  std::memset(out, 0, kHeaderBytes);
  out[0] = static_cast<char>(kFormat);
  StoreFixed32(out + kLengthOffset, static_cast<uint32_t>(size));
  StoreFixed32(out + kCountOffset, count);
}

void Writer::Put(const void* data, std::size_t n) {
  if (static_cast<std::size_t>(end_ - p_) < n) {
    overflow_ = true;
    return;
  }
  if (n > 0) std::memcpy(p_, data, n);
  p_ += n;
}

void Writer::PutVarint(uint64_t v) {
  char buf[10];
  std::size_t n = 0;
  while (v >= 0x80) {
    buf[n++] = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  buf[n++] = static_cast<char>(v);
  Put(buf, n);
}

void Writer::StartRecord(const std::string_view* key, uint32_t header_count) {
  if (key == nullptr) {
    PutVarint(0);
  } else {
    PutVarint(key->size() + 1);
    Put(key->data(), key->size());
  }
  PutVarint(header_count);
}

void Writer::AddHeader(std::string_view name, std::string_view value) {
  PutVarint(name.size());
  Put(name.data(), name.size());
  PutVarint(value.size());
  Put(value.data(), value.size());
}

void Writer::FinishRecord(std::string_view payload) {
  PutVarint(payload.size());
  Put(payload.data(), payload.size());
}

bool Writer::Finish() {
  if (overflow_ || p_ != end_) return false;
  const auto size = static_cast<std::size_t>(end_ - begin_);
  StoreFixed32(begin_ + kCrcOffset, crc32c::Extend(0, begin_ + kCrcStart, size - kCrcStart));
  return true;
}

void StringBuilder::StartRecord(const std::string_view* key, uint32_t header_count) {
  if (key == nullptr) {
    codec::PutVarint(&records_, 0);
  } else {
    codec::PutVarint(&records_, key->size() + 1);
    records_.append(*key);
  }
  codec::PutVarint(&records_, header_count);
}

void StringBuilder::AddHeader(std::string_view name, std::string_view value) {
  codec::PutVarint(&records_, name.size());
  records_.append(name);
  codec::PutVarint(&records_, value.size());
  records_.append(value);
}

void StringBuilder::FinishRecord(std::string_view payload) {
  codec::PutVarint(&records_, payload.size());
  records_.append(payload);
}

std::string StringBuilder::Finish() {
  std::string out(kHeaderBytes, '\0');
  out[0] = static_cast<char>(kFormat);
  StoreFixed32(out.data() + kLengthOffset, static_cast<uint32_t>(kHeaderBytes + records_.size()));
  StoreFixed32(out.data() + kCountOffset, count_);
  out.append(records_);
  StoreFixed32(out.data() + kCrcOffset, crc32c::Extend(0, out.data() + kCrcStart, out.size() - kCrcStart));
  return out;
}

}  // namespace batch
}  // namespace herald::wire
