#include "broker/storage/record_batch.h"

#include <chrono>

namespace herald::broker {

int64_t BrokerTimestampMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::shared_ptr<const RecordBatch> RecordBatch::Parse(uint64_t base_offset, std::string bytes) {
  // One allocation for the batch and its control block (the private
  // constructor is reached through a local class).
  struct Made : RecordBatch {};
  auto batch = std::make_shared<Made>();
  batch->base_offset_ = base_offset;
  batch->bytes_ = std::move(bytes);
  std::optional<wire::batch::Header> header = wire::batch::ReadHeader(batch->bytes_);
  if (!header || header->count == 0) return nullptr;
  // Each record takes at least 3 bytes: never reserve more than the value can hold.
  if (header->count > header->records.size() / 3) return nullptr;
  batch->timestamp_ms_ = header->timestamp_ms;
  batch->records_.resize(header->count);
  wire::RecordReader reader(header->records);
  for (auto& r : batch->records_) {
    if (!reader.Next(&r)) return nullptr;
  }
  if (!reader.done()) return nullptr;
  return batch;
}

uint32_t RecordBatch::PeekCount(std::string_view bytes) {
  std::optional<wire::batch::Header> header = wire::batch::ReadHeader(bytes);
  return header ? header->count : 0;
}

int64_t RecordBatch::PeekTimestamp(std::string_view bytes) {
  std::optional<wire::batch::Header> header = wire::batch::ReadHeader(bytes);
  return header ? header->timestamp_ms : 0;
}

bool ForEachHeader(std::string_view block, uint32_t count,
                   const std::function<void(std::string_view, std::string_view)>& fn) {
  wire::HeaderReader headers(block, count);
  std::string_view name, value;
  while (headers.Next(&name, &value)) fn(name, value);
  return headers.ok();
}

RecordBatchBuilder::RecordBatchBuilder(uint32_t count, int64_t timestamp_ms, std::size_t)
    : timestamp_ms_(timestamp_ms), builder_(count) {}

std::string RecordBatchBuilder::Finish() {
  std::string out = builder_.Finish();
  wire::batch::SetBrokerFields(out.data(), 0, timestamp_ms_);
  return out;
}

}  // namespace herald::broker
