// Store start-up: the one recovery procedure that lines the segment log and
// the index up after any stop, clean or not. Store::Recover is its only
// entry, and runs these steps in this order:
//
// 1. The database is open (Store::Open): RocksDB replays its own WAL, so the
//    index (batch locations and summaries, topics, starts and byte counts,
//    "seg/" keys, group positions, producer states) is as of the last write
//    that completed (--fsync always), or the last one synced or left in the
//    page cache (interval, never). The index is the truth for which batches
//    a topic has; the segment log is the truth for their bytes.
// 2. ReplayLegacyJournal: a data directory of an older release, which kept
//    RocksDB's WAL off and wrote through a journal of its own, has its
//    journal replayed into the database once (legacy_journal.h).
// 3. SegmentLog::Open lists the segment files. The next write starts a new
//    file: nothing is ever appended after bytes a crash may have torn. Bytes
//    a crash left behind that no index entry points at (a commit whose index
//    write never happened) are never read, and go with their file.
// 4. LoadSegmentTopics: the "seg/" keys tell the segment log which topics
//    each file holds, up to which offset, so that it can delete files once
//    retention passes them. Keys of files that are gone are deleted by the
//    first commit.
// 5. CutUnreadableTail: every file but the newest was synced as it closed.
//    A power loss can keep an index entry whose bytes in the newest file did
//    not reach the disk: with --fsync always, one of a commit that was never
//    acknowledged (the segment's sync runs beside the index's, SideSync);
//    with interval or never, any (RocksDB syncs its WAL at times of its
//    own). Every batch the index locates in
//    the newest file is read and checked against its CRC; a topic's log is
//    cut at its first batch that fails, with everything after it, as if
//    those writes had never completed. (Group positions and producer
//    sequences past the cut stay: a group then waits for the offset to be
//    written again, and a retry of a cut batch is answered as a duplicate.)
// 6. LoadTopics: each topic's start, end and byte count, from the index.

#include <rocksdb/db.h>
#include <rocksdb/file_system.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "broker/storage/batch_location.h"
#include "broker/storage/key_codec.h"
#include "broker/storage/legacy_journal.h"
#include "broker/storage/prezeroed_wal.h"
#include "broker/storage/segment_log.h"
#include "broker/storage/store.h"
#include "broker/storage/store_internal.h"

namespace herald::broker {

using namespace store_internal;

namespace {

constexpr std::size_t kTopicMetaBytes = 32;  // id + retention (8 bytes: id only, older format)

}  // namespace

Status Store::Recover() {
  if (Status s = ReplayLegacyJournal(); !s.ok()) return s;
  SegmentLogOptions segment_options;
  segment_options.dir = options_.data_dir + "/journal";
  // Every write waits for the disk with --fsync always: write the segments
  // over zeros laid down ahead of them, and each new file over a deleted one,
  // so that their fdatasyncs commit no size change (prezeroed_wal.h).
  segment_options.fs = options_.fsync == FsyncPolicy::kAlways
                           ? NewPrezeroedWalFileSystem(rocksdb::FileSystem::Default(), PrezeroedOptions())
                           : rocksdb::FileSystem::Default();
  segment_options.recycle = options_.fsync == FsyncPolicy::kAlways;
  rocksdb::Status opened = SegmentLog::Open(std::move(segment_options), &segments_);
  if (!opened.ok()) return StorageError(opened, "open the segment log in " + options_.data_dir);
  std::vector<uint64_t> in_newest_file;
  if (Status s = LoadSegmentTopics(&in_newest_file); !s.ok()) return s;
  if (Status s = CutUnreadableTail(in_newest_file); !s.ok()) return s;
  return LoadTopics();
}

Status Store::ReplayLegacyJournal() {
  rocksdb::DB* db = db_.get();
  auto apply = [db](std::string_view write_batch) {
    rocksdb::WriteBatch batch{std::string(write_batch)};
    return db->Write(rocksdb::WriteOptions(), &batch);
  };
  auto make_durable = [db] { return db->SyncWAL(); };
  rocksdb::Status s = ImportLegacyJournal(options_.data_dir + "/journal", apply, make_durable);
  return s.ok() ? Status::Ok() : StorageError(s, "replay the journal in " + options_.data_dir);
}

Status Store::LoadSegmentTopics(std::vector<uint64_t>* in_newest_file) {
  segments_->writer.AssertHeld();  // the storage thread has not started
  std::vector<uint64_t> files = segments_->FileNumbers();
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), meta_cf_));
  for (it->Seek(keys::kSegmentPrefix); it->Valid(); it->Next()) {
    std::string_view key = it->key().ToStringView();
    std::string_view value = it->value().ToStringView();
    if (!key.starts_with(keys::kSegmentPrefix)) break;
    if (key.size() != keys::kSegmentPrefix.size() + 16 || value.size() != 8) continue;
    const uint64_t file = keys::GetBigEndian64(key.substr(keys::kSegmentPrefix.size()));
    const uint64_t topic = keys::GetBigEndian64(key.substr(keys::kSegmentPrefix.size() + 8));
    if (!std::binary_search(files.begin(), files.end(), file)) {
      // The file went, and a crash came before the next commit deleted this.
      stale_segment_keys_.push_back(std::string(key));
      continue;
    }
    segments_->NoteTopic(file, topic, keys::GetBigEndian64(value));
    if (file == segments_->newest_file()) in_newest_file->push_back(topic);
  }
  return it->status().ok() ? Status::Ok() : StorageError(it->status(), "scan segments");
}

Status Store::CutUnreadableTail(const std::vector<uint64_t>& topics) {
  const uint64_t newest = segments_->newest_file();
  std::string scratch;
  for (uint64_t topic_id : topics) {
    // The topic's batches in the newest file: its last ones.
    TopicRange range(topic_id);
    std::unique_ptr<rocksdb::Iterator> log(db_->NewIterator(range.options, log_cf_));
    std::vector<std::pair<uint64_t, BatchLocation>> tail;  // (base offset, location), newest first
    for (log->SeekToLast(); log->Valid(); log->Prev()) {
      auto location = BatchLocation::Decode(log->value().ToStringView());
      if (!location || location->file != newest) break;
      tail.emplace_back(keys::GetBigEndian64(log->key().ToStringView().substr(8)), *location);
    }
    if (!log->status().ok()) return StorageError(log->status(), "scan log");
    std::reverse(tail.begin(), tail.end());
    auto bad = std::find_if(tail.begin(), tail.end(),
                            [&](const auto& entry) { return !segments_->Read(entry.second, &scratch).ok(); });
    if (bad == tail.end()) continue;

    uint64_t cut_bytes = 0;
    for (auto b = bad; b != tail.end(); ++b) cut_bytes += b->second.length;
    const uint64_t cut = bad->first;
    rocksdb::WriteBatch batch;
    batch.DeleteRange(log_cf_, keys::LogKey(topic_id, cut), keys::TopicPrefix(topic_id + 1));
    batch.DeleteRange(index_cf_, keys::LogKey(topic_id, cut), keys::TopicPrefix(topic_id + 1));
    std::string bytes_value;
    if (db_->Get(rocksdb::ReadOptions(), meta_cf_, keys::TopicBytesKey(topic_id), &bytes_value).ok() &&
        bytes_value.size() == 8) {
      const uint64_t bytes = keys::GetBigEndian64(bytes_value);
      batch.Put(meta_cf_, keys::TopicBytesKey(topic_id), keys::TopicPrefix(bytes - std::min(bytes, cut_bytes)));
    }
    if (bad == tail.begin()) {
      batch.Delete(meta_cf_, keys::SegmentKey(newest, topic_id));
    } else {
      batch.Put(meta_cf_, keys::SegmentKey(newest, topic_id), keys::TopicPrefix(cut));
    }
    rocksdb::Status s = WriteIndex(batch, true);
    if (!s.ok()) return StorageError(s, "cut the log of a topic");
    spdlog::get("storage")->error(
        "topic {}: the batches from offset {} on ({} bytes) are not whole in segment file {} (lost by a power "
        "loss before they were synced); its log ends before them",
        topic_id, cut, cut_bytes, newest);
  }
  return Status::Ok();
}

Status Store::LoadTopics() {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), meta_cf_, keys::kNextTopicIdKey, &value);
  if (s.ok() && value.size() == 8) next_topic_id_ = keys::GetBigEndian64(value);

  std::unique_ptr<rocksdb::Iterator> meta(db_->NewIterator(rocksdb::ReadOptions(), meta_cf_));
  for (meta->Seek(keys::kTopicMetaPrefix); meta->Valid(); meta->Next()) {
    std::string_view key = meta->key().ToStringView();
    if (!key.starts_with(keys::kTopicMetaPrefix)) break;
    std::string_view v = meta->value().ToStringView();
    if (v.size() != 8 && v.size() != kTopicMetaBytes) {
      return Status(wire::ErrorCode::StorageError, "corrupt topic record");
    }
    TopicState t;
    t.name = std::string(key.substr(keys::kTopicMetaPrefix.size()));
    t.id = keys::GetBigEndian64(v);
    if (v.size() == kTopicMetaBytes) {
      t.retention = {keys::GetBigEndian64(v.substr(8)), keys::GetBigEndian64(v.substr(16)),
                     keys::GetBigEndian64(v.substr(24))};
    } else {
      t.retention = options_.legacy_retention;
    }
    Status loaded = LoadTopicLog(&t);
    if (!loaded.ok()) return loaded;
    MutexLock lock(topics_mu_);
    topic_ids_[t.name] = t.id;
    topics_[t.id] = std::move(t);
  }
  if (!meta->status().ok()) return StorageError(meta->status(), "scan topics");
  return Status::Ok();
}

// The log itself says where it starts and ends (its first and last batch),
// unless a truncation left it empty: then the stored start does.
Status Store::LoadTopicLog(TopicState* t) {
  std::string start_value;
  uint64_t start = 0;
  if (db_->Get(rocksdb::ReadOptions(), meta_cf_, keys::TopicStartKey(t->id), &start_value).ok() &&
      start_value.size() == 8) {
    start = keys::GetBigEndian64(start_value);
  }
  t->earliest_offset = t->next_offset = start;
  TopicRange range(t->id);
  std::unique_ptr<rocksdb::Iterator> log(db_->NewIterator(range.options, log_cf_));
  log->SeekToFirst();
  if (log->Valid()) {
    t->earliest_offset = std::max(start, keys::GetBigEndian64(log->key().ToStringView().substr(8)));
    log->SeekToLast();
    uint64_t base = keys::GetBigEndian64(log->key().ToStringView().substr(8));
    uint32_t count = FactsOfLogValue(log->value().ToStringView()).count;
    if (count == 0) return Status(wire::ErrorCode::StorageError, "corrupt batch in " + t->name);
    t->next_offset = std::max(start, base + count);
  }
  if (!log->status().ok()) return StorageError(log->status(), "scan log of " + t->name);

  std::string bytes_value;
  if (db_->Get(rocksdb::ReadOptions(), meta_cf_, keys::TopicBytesKey(t->id), &bytes_value).ok() &&
      bytes_value.size() == 8) {
    t->bytes = keys::GetBigEndian64(bytes_value);
    return Status::Ok();
  }
  // Written before byte counts were stored: sum the index, and build the index
  // first if the log predates it too.
  std::unique_ptr<rocksdb::Iterator> index(db_->NewIterator(range.options, index_cf_));
  index->SeekToFirst();
  if (!index->Valid() && t->next_offset > t->earliest_offset) {
    Status rebuilt = RebuildIndex(t->id);
    if (!rebuilt.ok()) return rebuilt;
    index.reset(db_->NewIterator(range.options, index_cf_));
    index->SeekToFirst();
  }
  for (; index->Valid(); index->Next()) t->bytes += DecodeSummary(index->key().ToStringView(),
                                                                   index->value().ToStringView())
                                                        .value_or(BatchSummary{})
                                                        .bytes;
  if (!index->status().ok()) return StorageError(index->status(), "scan index of " + t->name);
  return Status::Ok();
}

Status Store::RebuildIndex(uint64_t topic_id) {
  TopicRange range(topic_id);
  std::unique_ptr<rocksdb::Iterator> log(db_->NewIterator(range.options, log_cf_));
  rocksdb::WriteBatch batch;
  for (log->SeekToFirst(); log->Valid(); log->Next()) {
    const StoredBatchFacts facts = FactsOfLogValue(log->value().ToStringView());
    batch.Put(index_cf_, log->key(), EncodeSummary(facts.count, facts.bytes, facts.timestamp_ms).view());
  }
  if (!log->status().ok()) return StorageError(log->status(), "rebuild index");
  rocksdb::Status s = WriteIndex(batch, true);
  return s.ok() ? Status::Ok() : StorageError(s, "rebuild index");
}

}  // namespace herald::broker
