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
  if (batch->end_offset() <= earliest_) return;  // purged before it got here
  end_ = batch->end_offset();
  cached_bytes_ += batch->bytes().size();
  tail_.push_back(std::move(batch));
  // Keep at least the newest batch, however large.
  while (cached_bytes_ > tail_cache_bytes_ && tail_.size() > 1) {
    cached_bytes_ -= tail_.front()->bytes().size();
    tail_.pop_front();
  }
}

void TopicLog::OnTruncated(uint64_t earliest) {
  earliest_ = std::max(earliest_, earliest);
  end_ = std::max(end_, earliest_);
  // Keep the newest batch even if it is gone: it still marks the end of the
  // log, and a reader never asks for offsets below earliest_.
  while (tail_.size() > 1 && tail_.front()->end_offset() <= earliest_) {
    cached_bytes_ -= tail_.front()->bytes().size();
    tail_.pop_front();
  }
  std::erase_if(read_cache_, [&](const auto& b) {
    if (b->end_offset() > earliest_) return false;
    read_cache_bytes_ -= b->bytes().size();
    return true;
  });
}

std::optional<int64_t> TopicLog::TimestampAt(uint64_t offset) {
  std::vector<MessageRef> one;
  if (offset < earliest_ || !Read(offset, 1, 1, &one).ok() || one.empty() || one[0].offset() != offset)
    return std::nullopt;
  return one[0].timestamp_ms();
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

std::shared_ptr<const RecordBatch> TopicLog::FindCached(uint64_t offset) const {
  if (!tail_.empty() && offset >= tail_.front()->base_offset()) {
    // Binary search the first cached batch that ends after `offset`.
    auto it = std::upper_bound(tail_.begin(), tail_.end(), offset,
                               [](uint64_t o, const auto& b) { return o < b->end_offset(); });
    return it == tail_.end() ? nullptr : *it;
  }
  for (auto it = read_cache_.rbegin(); it != read_cache_.rend(); ++it)
    if ((*it)->base_offset() <= offset && offset < (*it)->end_offset()) return *it;
  return nullptr;
}

void TopicLog::RememberRead(std::shared_ptr<const RecordBatch> batch) {
  constexpr std::size_t kMaxBatches = 4096, kMaxBytes = 4u << 20;
  read_cache_bytes_ += batch->bytes().size();
  read_cache_.push_back(std::move(batch));
  while (read_cache_.size() > 1 && (read_cache_.size() > kMaxBatches || read_cache_bytes_ > kMaxBytes)) {
    read_cache_bytes_ -= read_cache_.front()->bytes().size();
    read_cache_.pop_front();
  }
}

Status TopicLog::Read(uint64_t from, std::size_t max_messages, std::size_t max_bytes,
                      std::vector<MessageRef>* out) {
  const std::size_t limit = out->size() + max_messages;
  std::size_t bytes = 0;
  from = std::max(from, earliest_);
  while (from < end_ && out->size() < limit && bytes < max_bytes) {
    if (std::shared_ptr<const RecordBatch> batch = FindCached(from)) {
      bytes += TakeFrom(batch, from, limit, out);
      from = batch->end_offset();
      continue;
    }
    std::vector<std::shared_ptr<const RecordBatch>> read;
    Status s = store_->ReadBatches(topic_id_, from, limit - out->size(), max_bytes - bytes, &read);
    if (!s.ok()) return s;
    // Committed but not yet handed to OnAppended: not part of the log yet.
    std::erase_if(read, [&](const auto& b) { return b->base_offset() >= end_; });
    if (read.empty()) break;
    // A gap in the stored log (retention removed it) moves the reader on.
    from = std::max(from, read.front()->base_offset());
    // Take from what was read (a small cache may not hold all of it), then keep it.
    for (const auto& b : read) {
      if (out->size() >= limit || bytes >= max_bytes) break;
      bytes += TakeFrom(b, from, limit, out);
      from = b->end_offset();
    }
    for (auto& b : read) RememberRead(std::move(b));
  }
  return Status::Ok();
}

}  // namespace herald::broker
