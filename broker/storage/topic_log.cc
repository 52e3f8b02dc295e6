#include "broker/storage/topic_log.h"

#include <algorithm>

#include "broker/storage/store.h"

namespace herald::broker {

TopicLog::TopicLog(Store* store, ReadRunner* reads, uint64_t topic_id, uint64_t earliest_offset,
                   uint64_t next_offset, std::size_t tail_cache_bytes)
    : store_(store),
      reads_(reads),
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

std::optional<int64_t> TopicLog::CachedTimestampAt(uint64_t offset) {
  if (offset < earliest_ || offset >= end_) return std::nullopt;
  std::shared_ptr<const RecordBatch> batch = FindCached(offset);
  if (batch == nullptr) return std::nullopt;
  return MessageRef{batch, static_cast<uint32_t>(offset - batch->base_offset())}.timestamp_ms();
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

bool TopicLog::ReadCached(uint64_t from, std::size_t max_messages, std::size_t max_bytes,
                          std::vector<MessageRef>* out) {
  const std::size_t limit = out->size() + max_messages;
  std::size_t bytes = 0;
  from = std::max(from, earliest_);
  if (from >= end_) return true;
  std::shared_ptr<const RecordBatch> batch = FindCached(from);
  if (batch == nullptr) return false;
  // Along the cached batches, up to the first that memory does not hold.
  while (batch != nullptr && out->size() < limit && bytes < max_bytes) {
    bytes += TakeFrom(batch, from, limit, out);
    from = batch->end_offset();
    batch = from < end_ ? FindCached(from) : nullptr;
  }
  return true;
}

void TopicLog::ReadLater(uint64_t from, std::size_t max_messages, std::size_t max_bytes,
                         ReadDone done) {
  from = std::max(from, earliest_);
  reads_->Run([this, alive = std::weak_ptr<const bool>(alive_), store = store_, topic_id = topic_id_,
               from, max_messages, max_bytes, done = std::move(done)]() mutable -> ReadRunner::Completion {
    // A reader thread: the store only.
    std::vector<std::shared_ptr<const RecordBatch>> read;
    Status s = store->ReadBatches(topic_id, from, max_messages, max_bytes, &read);
    return [this, alive = std::move(alive), from, max_messages, max_bytes, done = std::move(done),
            s = std::move(s), read = std::move(read)]() mutable {
      // The I/O thread again.
      if (alive.expired()) return done(Status(wire::ErrorCode::TopicNotFound, "topic was deleted"), {});
      if (!s.ok()) return done(std::move(s), {});
      std::vector<MessageRef> out;
      TakeStored(from, max_messages, max_bytes, std::move(read), &out);
      done(Status::Ok(), std::move(out));
    };
  });
}

void TopicLog::TakeStored(uint64_t from, std::size_t max_messages, std::size_t max_bytes,
                          std::vector<std::shared_ptr<const RecordBatch>> read,
                          std::vector<MessageRef>* out) {
  // Committed but not yet handed to OnAppended: not part of the log yet.
  // Truncated while the read ran: not part of it any more.
  std::erase_if(read, [&](const auto& b) { return b->base_offset() >= end_ || b->end_offset() <= earliest_; });
  if (read.empty()) return;
  // A gap in the stored log (retention removed it) moves the reader on.
  from = std::max({from, earliest_, read.front()->base_offset()});
  // Take from what was read (a small cache may not hold all of it), then keep it.
  std::size_t bytes = 0;
  for (const auto& b : read) {
    if (out->size() >= max_messages || bytes >= max_bytes) break;
    bytes += TakeFrom(b, from, max_messages, out);
    from = b->end_offset();
  }
  for (auto& b : read) {
    if (FindCached(b->base_offset()) == nullptr) RememberRead(std::move(b));
  }
}

}  // namespace herald::broker
