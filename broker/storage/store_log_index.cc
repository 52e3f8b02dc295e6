// The read side of the store and its batch index: reading batches, listing
// batch summaries, finding an offset by time, truncating a topic's oldest
// batches (retention, purge) and giving their space back, the storage size.

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "broker/storage/batch_location.h"
#include "broker/storage/journal.h"
#include "broker/storage/journal_reader.h"
#include "broker/storage/store.h"
#include "broker/storage/store_internal.h"

namespace herald::broker {

using namespace store_internal;

Status Store::RebuildIndex(uint64_t topic_id) {
  TopicRange range(topic_id);
  std::unique_ptr<rocksdb::Iterator> log(db_->NewIterator(range.options, log_cf_));
  rocksdb::WriteBatch batch;
  for (log->SeekToFirst(); log->Valid(); log->Next()) {
    const StoredBatchFacts facts = FactsOfLogValue(log->value().ToStringView());
    batch.Put(index_cf_, log->key(), EncodeSummary(facts.count, facts.bytes, facts.timestamp_ms));
  }
  if (!log->status().ok()) return StorageError(log->status(), "rebuild index");
  rocksdb::Status s = WriteJournaled(batch, true);
  return s.ok() ? Status::Ok() : StorageError(s, "rebuild index");
}

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

  DeadRanges dead;
  if (Status ranges = RangesOfBatches(op.topic_id, new_earliest, &dead); !ranges.ok()) {
    return op.done(ranges, {}, false);
  }
  std::string lo = keys::LogKey(op.topic_id, 0), hi = keys::LogKey(op.topic_id, new_earliest);
  rocksdb::WriteBatch batch;
  batch.DeleteRange(log_cf_, lo, hi);
  batch.DeleteRange(index_cf_, lo, hi);
  batch.Put(meta_cf_, keys::TopicStartKey(op.topic_id), keys::TopicPrefix(new_earliest));
  batch.Put(meta_cf_, keys::TopicBytesKey(op.topic_id),
            keys::TopicPrefix(topic->bytes - std::min(topic->bytes, removed_bytes)));
  rocksdb::Status s = WriteJournaled(batch, true);
  if (!s.ok()) return op.done(StorageError(s, "truncate"), {}, false);
  TopicState t;
  {
    std::lock_guard lock(topics_mu_);
    TopicState& state = topics_[op.topic_id];
    state.earliest_offset = new_earliest;
    state.bytes -= std::min(state.bytes, removed_bytes);
    t = state;
  }
  segments_dirty_ = true;  // journal files may hold no live batch any more
  AddDeadRanges(std::move(dead));
  op.done(Status::Ok(), t, false);
}

Status Store::RangesOfBatches(uint64_t topic_id, uint64_t before, DeadRanges* out) const {
  TopicRange range(topic_id);
  std::unique_ptr<rocksdb::Iterator> log(db_->NewIterator(range.options, log_cf_));
  const std::string end = keys::LogKey(topic_id, before);
  for (log->SeekToFirst(); log->Valid() && log->key().compare(end) < 0; log->Next()) {
    if (auto location = BatchLocation::Decode(log->value().ToStringView())) {
      (*out)[location->file].emplace_back(location->offset, location->length);
    }
  }
  return log->status().ok() ? Status::Ok() : StorageError(log->status(), "scan log");
}

void Store::AddDeadRanges(DeadRanges dead) {
  for (auto& [file, ranges] : dead) {
    auto& pending = dead_ranges_[file];
    pending.insert(pending.end(), ranges.begin(), ranges.end());
    // Adjacent batches make one range, so that the blocks they share go too.
    std::sort(pending.begin(), pending.end());
    std::size_t kept = 0;
    for (std::size_t i = 0; i < pending.size(); ++i) {
      auto& last = pending[kept];
      if (i > 0 && last.first + last.second >= pending[i].first) {
        last.second = std::max(last.first + last.second, pending[i].first + pending[i].second) - last.first;
      } else {
        pending[i > 0 ? ++kept : kept] = pending[i];
      }
    }
    pending.resize(pending.empty() ? 0 : kept + 1);
  }
}

void Store::PunchDeadRanges() {
  for (auto it = dead_ranges_.begin(); it != dead_ranges_.end();) {
    bool punched = true;
    for (const auto& [offset, length] : it->second) punched = journal_->Punch(it->first, offset, length) && punched;
    // Not a segment yet: its ranges wait until it is.
    it = punched ? dead_ranges_.erase(it) : std::next(it);
  }
}

Status Store::ReadBatches(uint64_t topic_id, uint64_t from_offset, std::size_t max_messages,
                          std::size_t max_bytes,
                          std::vector<std::shared_ptr<const RecordBatch>>* out) const {
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
      rocksdb::Status read = reader_->Read(*location, &located);
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
  std::lock_guard lock(topics_mu_);
  auto t = topics_.find(topic_id);
  return t == topics_.end() || t->second.earliest_offset >= end_offset;
}

uint64_t Store::OffsetForTime(uint64_t topic_id, int64_t timestamp_ms) {
  std::optional<TopicRecord> topic = FindTopic(topic_id);
  if (!topic) return 0;
  TopicRange range(topic_id);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(range.options, index_cf_));
  // Broker timestamps only grow (barring clock steps), so the first batch at
  // or after the time is the answer; a linear scan of the small index.
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto summary = DecodeSummary(it->key().ToStringView(), it->value().ToStringView());
    if (summary && summary->timestamp_ms >= timestamp_ms) {
      return std::max(summary->base_offset, topic->earliest_offset);
    }
  }
  return topic->next_offset;
}

Status Store::CompactTopicRange(uint64_t topic_id, uint64_t before) {
  std::string lo = keys::LogKey(topic_id, 0), hi = keys::LogKey(topic_id, before);
  rocksdb::Slice lo_slice(lo), hi_slice(hi);
  // Flush every column family first: the journal file that still holds the
  // removed batches can only be dropped once no memtable needs it.
  rocksdb::FlushOptions flush;
  flush.wait = true;
  rocksdb::Status flushed = db_->Flush(flush, handles_);
  if (!flushed.ok()) return StorageError(flushed, "flush");
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
  // RocksDB's own WAL stays empty (journal.h).
  return SumOverFamilies(rocksdb::DB::Properties::kTotalSstFilesSize) + journal_->bytes();
}

uint64_t Store::MemtableBytes() const { return SumOverFamilies(rocksdb::DB::Properties::kSizeAllMemTables); }

}  // namespace herald::broker
