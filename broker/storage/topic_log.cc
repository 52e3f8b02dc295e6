#include "broker/storage/topic_log.h"

#include <algorithm>

#include "broker/storage/store.h"

namespace herald::broker {

TopicLog::TopicLog(Store* store, uint64_t topic_id, uint64_t earliest_offset,
                   uint64_t next_offset, std::size_t tail_cache_bytes)
    : store_(store),
      topic_id_(topic_id),
      earliest_(earliest_offset),
      end_(next_offset),
      tail_cache_bytes_(tail_cache_bytes) {}

void TopicLog::OnAppended(std::shared_ptr<const RecordBatch> batch) {
  end_ = batch->end_offset();
  cached_bytes_ += batch->bytes().size();
  tail_.push_back(std::move(batch));
  // Keep at least the newest batch, however large.
  while (cached_bytes_ > tail_cache_bytes_ && tail_.size() > 1) {
    cached_bytes_ -= tail_.front()->bytes().size();
    tail_.pop_front();
  }
}

namespace {

// Appends messages of `batch` from offset `from`; returns payload bytes added.
std::size_t TakeFrom(const std::shared_ptr<const RecordBatch>& batch, uint64_t from,
                     std::size_t max_messages, std::vector<MessageRef>* out) {
  std::size_t bytes = 0;
  for (uint64_t o = std::max(from, batch->base_offset());
       o < batch->end_offset() && out->size() < max_messages; ++o) {
    uint32_t index = static_cast<uint32_t>(o - batch->base_offset());
    out->push_back({batch, index});
    bytes += batch->record(index).payload.size();
  }
  return bytes;
}

}  // namespace

Status TopicLog::Read(uint64_t from, std::size_t max_messages, std::size_t max_bytes,
                      std::vector<MessageRef>* out) {
  std::size_t limit = out->size() + max_messages;
  std::size_t bytes = 0;
  from = std::max(from, earliest_);
  if (from >= end_) return Status::Ok();

  if (tail_.empty() || from < tail_.front()->base_offset()) {
    // Behind the cache: read from RocksDB up to where the cache starts.
    std::vector<std::shared_ptr<const RecordBatch>> batches;
    Status s = store_->ReadBatches(topic_id_, from, max_bytes, &batches);
    if (!s.ok()) return s;
    for (const auto& b : batches) {
      // Committed but not yet handed to OnAppended: not part of the log yet.
      if (b->base_offset() >= end_) break;
      if (!tail_.empty() && b->base_offset() >= tail_.front()->base_offset()) break;
      bytes += TakeFrom(b, from, limit, out);
      from = b->end_offset();
      if (out->size() >= limit || bytes >= max_bytes) return Status::Ok();
    }
    if (tail_.empty() || from < tail_.front()->base_offset()) return Status::Ok();
  }
  // Binary search the first cached batch that holds offsets >= from.
  auto it = std::upper_bound(tail_.begin(), tail_.end(), from,
                             [](uint64_t o, const auto& b) { return o < b->end_offset(); });
  for (; it != tail_.end() && out->size() < limit && bytes < max_bytes; ++it) {
    bytes += TakeFrom(*it, from, limit, out);
  }
  return Status::Ok();
}

}  // namespace herald::broker
