// The read side of the store and its batch index: reading batches, listing
// batch summaries, finding an offset by time and a batch's time, truncating a
// topic's oldest batches (retention, purge) and giving their space back, the
// storage size.

#include <thread>

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "broker/storage/batch_location.h"
#include "broker/storage/segment_log.h"
#include "broker/storage/store.h"
#include "broker/storage/store_internal.h"

namespace herald::broker {

using namespace store_internal;

void Store::ApplyTruncate(TruncateOp& op) {
  std::optional<TopicState> topic = FindTopic(op.topic_id);
  if (!topic) return op.done(Status(wire::ErrorCode::TopicNotFound, "topic was deleted"), {}, false);
  uint64_t before = std::min(op.before, topic->next_offset);
  if (before <= topic->earliest_offset) return op.done(Status::Ok(), *topic, false);

  // Whole batches only: a batch that holds `before` stays, and so does the
  // part of it below `before`.
  uint64_t removed_bytes = 0, new_earliest = before;
  TopicRange range(op.topic_id);
  std::unique_ptr<rocksdb::Iterator> index(db_->NewIterator(range.options, index_cf_));
  for (index->SeekToFirst(); index->Valid(); index->Next()) {
    auto summary = DecodeSummary(index->key().ToStringView(), index->value().ToStringView());
    if (!summary) return op.done(Status(wire::ErrorCode::StorageError, "corrupt index entry"), {}, false);
    if (summary->end_offset() > before) {
      new_earliest = std::max(topic->earliest_offset, summary->base_offset);
      break;
    }
    removed_bytes += summary->bytes;
  }
  if (!index->status().ok()) return op.done(StorageError(index->status(), "scan index"), {}, false);
  if (new_earliest <= topic->earliest_offset) return op.done(Status::Ok(), *topic, false);

  BatchRanges removed;
  if (Status ranges = LocationsOfBatches(op.topic_id, new_earliest, &removed); !ranges.ok()) {
    return op.done(ranges, {}, false);
  }
  std::string lo = keys::LogKey(op.topic_id, 0), hi = keys::LogKey(op.topic_id, new_earliest);
  rocksdb::WriteBatch batch;
  batch.DeleteRange(log_cf_, lo, hi);
  batch.DeleteRange(index_cf_, lo, hi);
  batch.Put(meta_cf_, keys::TopicStartKey(op.topic_id), keys::TopicPrefix(new_earliest));
  batch.Put(meta_cf_, keys::TopicBytesKey(op.topic_id),
            keys::TopicPrefix(topic->bytes - std::min(topic->bytes, removed_bytes)));
  rocksdb::Status s = WriteIndex(batch, true);
  if (!s.ok()) return op.done(StorageError(s, "truncate"), {}, false);
  TopicState t;
  {
    MutexLock lock(topics_mu_);
    TopicState& state = topics_[op.topic_id];
    state.earliest_offset = new_earliest;
    state.bytes -= std::min(state.bytes, removed_bytes);
    t = state;
  }
  segments_dirty_ = true;  // segment files may hold no live batch any more
  ReleaseBatches(removed);
  op.done(Status::Ok(), t, false);
}

Status Store::LocationsOfBatches(uint64_t topic_id, uint64_t before, BatchRanges* out) const {
  TopicRange range(topic_id);
  std::unique_ptr<rocksdb::Iterator> log(db_->NewIterator(range.options, log_cf_));
  const std::string end = keys::LogKey(topic_id, before);
  for (log->SeekToFirst(); log->Valid() && log->key().compare(end) < 0; log->Next()) {
    if (auto location = BatchLocation::Decode(log->value().ToStringView())) out->push_back(*location);
  }
  return log->status().ok() ? Status::Ok() : StorageError(log->status(), "scan log");
}

Status Store::ReadBatches(uint64_t topic_id, uint64_t from_offset, std::size_t max_messages,
                          std::size_t max_bytes,
                          std::vector<std::shared_ptr<const RecordBatch>>* out) const {
  SlowDiskForTests();
  std::string lower = keys::TopicPrefix(topic_id), upper = keys::TopicPrefix(topic_id + 1);
  rocksdb::Slice lower_slice(lower), upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_lower_bound = &lower_slice;
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, log_cf_));
  // The batch holding from_offset starts at or before it.
  it->SeekForPrev(keys::LogKey(topic_id, from_offset));
  if (!it->Valid()) it->Seek(keys::LogKey(topic_id, from_offset));
  std::size_t bytes = 0, messages = 0;
  std::string located;
  for (; it->Valid() && bytes < max_bytes && messages < max_messages; it->Next()) {
    uint64_t base = keys::GetBigEndian64(it->key().ToStringView().substr(8));
    std::string_view value = it->value().ToStringView();
    std::shared_ptr<const RecordBatch> batch;
    if (BatchLocation::IsLocation(value)) {
      auto location = BatchLocation::Decode(value);
      if (!location) {
        return Status(wire::ErrorCode::StorageError,
                      fmt::format("corrupt batch location at offset {} of topic {}", base, topic_id));
      }
      if (location->count != 0 && base + location->count <= from_offset) continue;
      rocksdb::Status read = segments_->Read(*location, &located);
      if (!read.ok()) {
        // Retention may have removed the batch, and its file with it, since
        // the iterator was made: then the read ends here, as at the log's end.
        if (BatchRemoved(topic_id, base + location->count)) break;
        return StorageError(read, fmt::format("read batch at offset {} of topic {}", base, topic_id));
      }
      batch = RecordBatch::Parse(base, std::move(located));
      located = std::string();
    } else {
      batch = RecordBatch::Parse(base, it->value().ToString());
    }
    if (!batch) {
      return Status(wire::ErrorCode::StorageError,
                    fmt::format("corrupt batch at offset {} of topic {}", base, topic_id));
    }
    if (batch->end_offset() <= from_offset) continue;
    bytes += batch->bytes().size();
    messages += batch->end_offset() - std::max(from_offset, batch->base_offset());
    out->push_back(std::move(batch));
  }
  return it->status().ok() ? Status::Ok() : StorageError(it->status(), "read log");
}

Status Store::ListBatches(uint64_t topic_id, uint64_t from_offset, std::size_t max_batches,
                          std::vector<BatchSummary>* out) const {
  TopicRange range(topic_id);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(range.options, index_cf_));
  it->SeekForPrev(keys::LogKey(topic_id, from_offset));
  if (!it->Valid()) it->SeekToFirst();
  for (std::size_t n = 0; it->Valid() && n < max_batches; it->Next()) {
    auto summary = DecodeSummary(it->key().ToStringView(), it->value().ToStringView());
    if (!summary) return Status(wire::ErrorCode::StorageError, "corrupt index entry");
    if (summary->end_offset() <= from_offset) continue;
    out->push_back(*summary);
    ++n;
  }
  return it->status().ok() ? Status::Ok() : StorageError(it->status(), "scan index");
}

bool Store::BatchRemoved(uint64_t topic_id, uint64_t end_offset) const {
  MutexLock lock(topics_mu_);
  auto t = topics_.find(topic_id);
  return t == topics_.end() || t->second.earliest_offset >= end_offset;
}

namespace {

// The summary of the stored batch that holds `offset`, else of the first one
// after it; nullopt past the last. `index` iterates one topic's index.
std::optional<BatchSummary> BatchAtOrAfter(rocksdb::Iterator& index, uint64_t topic_id, uint64_t offset) {
  const std::string key = keys::LogKey(topic_id, offset);
  index.SeekForPrev(key);
  if (index.Valid()) {
    auto summary = DecodeSummary(index.key().ToStringView(), index.value().ToStringView());
    if (summary && summary->end_offset() > offset) return summary;
  }
  index.Seek(key);
  if (!index.Valid()) return std::nullopt;
  return DecodeSummary(index.key().ToStringView(), index.value().ToStringView());
}

}  // namespace

uint64_t Store::OffsetForTime(uint64_t topic_id, int64_t timestamp_ms) {
  SlowDiskForTests();
  std::optional<TopicRecord> topic = FindTopic(topic_id);
  if (!topic) return 0;
  TopicRange range(topic_id);
  std::unique_ptr<rocksdb::Iterator> index(db_->NewIterator(range.options, index_cf_));
  // The first offset whose batch is at or after the time, by bisecting the
  // offsets: O(log n) seeks of the index. Every offset of a batch has the
  // batch's time, so the answer is where a batch starts (or the log's start).
  uint64_t lo = topic->earliest_offset, hi = topic->next_offset;
  while (lo < hi) {
    const uint64_t mid = lo + (hi - lo) / 2;
    std::optional<BatchSummary> batch = BatchAtOrAfter(*index, topic_id, mid);
    if (!batch || batch->base_offset >= hi) {
      hi = mid;  // nothing stored in [mid, hi): a reader there moves on to hi
    } else if (batch->timestamp_ms >= timestamp_ms) {
      hi = std::max(lo, batch->base_offset);
    } else {
      lo = batch->end_offset();
    }
  }
  return std::min(lo, topic->next_offset);
}

std::optional<int64_t> Store::BatchTimestampAt(uint64_t topic_id, uint64_t offset) const {
  SlowDiskForTests();
  TopicRange range(topic_id);
  std::unique_ptr<rocksdb::Iterator> index(db_->NewIterator(range.options, index_cf_));
  std::optional<BatchSummary> batch = BatchAtOrAfter(*index, topic_id, offset);
  if (!batch || batch->base_offset > offset) return std::nullopt;
  return batch->timestamp_ms;
}

void Store::SlowDiskForTests() const {
  if (options_.debug_read_delay.count() > 0) std::this_thread::sleep_for(options_.debug_read_delay);
}

Status Store::CompactTopicRange(uint64_t topic_id, uint64_t before) {
  std::string lo = keys::LogKey(topic_id, 0), hi = keys::LogKey(topic_id, before);
  rocksdb::Slice lo_slice(lo), hi_slice(hi);
  rocksdb::CompactRangeOptions options;
  options.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  for (rocksdb::ColumnFamilyHandle* cf : {log_cf_, index_cf_}) {
    rocksdb::Status s = db_->CompactRange(options, cf, &lo_slice, &hi_slice);
    if (!s.ok()) return StorageError(s, "compact");
  }
  return Status::Ok();
}

uint64_t Store::SumOverFamilies(const std::string& property) const {
  uint64_t total = 0;
  for (rocksdb::ColumnFamilyHandle* cf : handles_) {
    uint64_t v = 0;
    if (db_->GetIntProperty(cf, property, &v)) total += v;
  }
  return total;
}

uint64_t Store::StorageBytes() const {
  return SumOverFamilies(rocksdb::DB::Properties::kTotalSstFilesSize) + segments_->bytes();
}

uint64_t Store::MemtableBytes() const { return SumOverFamilies(rocksdb::DB::Properties::kSizeAllMemTables); }

}  // namespace herald::broker
