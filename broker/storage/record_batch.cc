#include "broker/storage/record_batch.h"

#include <chrono>

#include "broker/storage/varint.h"

namespace herald::broker {

int64_t BrokerTimestampMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::shared_ptr<const RecordBatch> RecordBatch::Parse(uint64_t base_offset, std::string bytes) {
  auto batch = std::shared_ptr<RecordBatch>(new RecordBatch());
  batch->base_offset_ = base_offset;
  batch->bytes_ = std::move(bytes);
  codec::Reader in(batch->bytes_);
  std::string_view format = in.Bytes(1);
  if (!in.ok() || static_cast<uint8_t>(format[0]) != kFormat) return nullptr;
  uint32_t count = in.Fixed32();
  batch->timestamp_ms_ = static_cast<int64_t>(in.Fixed64());
  if (!in.ok() || count == 0) return nullptr;
  // Each record takes at least 3 bytes: never reserve more than the value can hold.
  if (count > batch->bytes_.size() / 3) return nullptr;
  batch->records_.resize(count);
  for (auto& r : batch->records_) {
    uint64_t key_len = in.Varint();
    r.has_key = key_len != 0;
    if (r.has_key) r.key = in.Bytes(key_len - 1);
    r.header_count = static_cast<uint32_t>(in.Varint());
    const char* headers_begin = in.position();
    for (uint32_t h = 0; h < r.header_count && in.ok(); ++h) {
      in.LengthPrefixed();  // name
      in.LengthPrefixed();  // value
    }
    if (!in.ok()) return nullptr;
    r.headers = std::string_view(headers_begin, static_cast<std::size_t>(in.position() - headers_begin));
    r.payload = in.LengthPrefixed();
    if (!in.ok()) return nullptr;
  }
  if (!in.done()) return nullptr;
  return batch;
}

uint32_t RecordBatch::PeekCount(std::string_view bytes) {
  codec::Reader in(bytes);
  std::string_view format = in.Bytes(1);
  if (!in.ok() || static_cast<uint8_t>(format[0]) != kFormat) return 0;
  uint32_t count = in.Fixed32();
  return in.ok() ? count : 0;
}

int64_t RecordBatch::PeekTimestamp(std::string_view bytes) {
  codec::Reader in(bytes);
  in.Bytes(1);
  in.Fixed32();
  int64_t ts = static_cast<int64_t>(in.Fixed64());
  return in.ok() ? ts : 0;
}

bool ForEachHeader(std::string_view block, uint32_t count,
                   const std::function<void(std::string_view, std::string_view)>& fn) {
  codec::Reader in(block);
  for (uint32_t i = 0; i < count; ++i) {
    std::string_view name = in.LengthPrefixed();
    std::string_view value = in.LengthPrefixed();
    if (!in.ok()) return false;
    fn(name, value);
  }
  return in.done();
}

RecordBatchBuilder::RecordBatchBuilder(uint32_t count, int64_t timestamp_ms,
                                       std::size_t reserve_bytes) {
  out_.reserve(RecordBatch::kHeaderBytes + reserve_bytes);
  out_.push_back(static_cast<char>(RecordBatch::kFormat));
  codec::PutFixed32(&out_, count);
  codec::PutFixed64(&out_, static_cast<uint64_t>(timestamp_ms));
}

std::size_t RecordBatchBuilder::RecordBytes(const std::string_view* key, uint32_t header_count,
                                            std::size_t payload_size) {
  const std::size_t key_field = key == nullptr ? 0 : key->size() + 1;
  return codec::VarintLength(key_field) + (key == nullptr ? 0 : key->size()) +
         codec::VarintLength(header_count) + codec::VarintLength(payload_size) + payload_size;
}

std::size_t RecordBatchBuilder::HeaderBytes(std::size_t name_size, std::size_t value_size) {
  return codec::VarintLength(name_size) + name_size + codec::VarintLength(value_size) + value_size;
}

void RecordBatchBuilder::StartRecord(const std::string_view* key, uint32_t header_count) {
  if (key == nullptr) {
    codec::PutVarint(&out_, 0);
  } else {
    codec::PutVarint(&out_, key->size() + 1);
    out_.append(*key);
  }
  codec::PutVarint(&out_, header_count);
}

void RecordBatchBuilder::AddHeader(std::string_view name, std::string_view value) {
  codec::PutVarint(&out_, name.size());
  out_.append(name);
  codec::PutVarint(&out_, value.size());
  out_.append(value);
}

void RecordBatchBuilder::FinishRecord(std::string_view payload) {
  codec::PutVarint(&out_, payload.size());
  out_.append(payload);
}

}  // namespace herald::broker
