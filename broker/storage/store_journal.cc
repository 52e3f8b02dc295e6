// The store's side of its journal (journal.h): opening and replaying it,
// writing through it, syncing it, and deleting its files as RocksDB's flushes
// make them redundant, or keeping them as segments while they hold batches
// (batch_location.h) of a topic that has not moved its start past them.

#include <fcntl.h>
#include <rocksdb/db.h>
#include <rocksdb/file_system.h>
#include <rocksdb/listener.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "broker/storage/journal.h"
#include "broker/storage/journal_reader.h"
#include "broker/storage/prezeroed_wal.h"
#include "broker/storage/store.h"
#include "broker/storage/store_internal.h"

namespace herald::broker {

using namespace store_internal;

namespace {

// A journal of this size or more has RocksDB flush every family.
constexpr uint64_t kJournalFlushBytes = 64u << 20;

}  // namespace

// The largest sequence number each column family has flushed, from RocksDB's
// flush threads. With atomic_flush every automatic flush covers all families
// with data, but a manual compaction's flush may cover one alone: hence one
// bound per family.
class Store::FlushListener final : public rocksdb::EventListener {
 public:
  FlushListener(std::function<void()> on_flush_begin, std::function<void()> on_flush)
      : on_flush_begin_(std::move(on_flush_begin)), on_flush_(std::move(on_flush)) {}

  void OnFlushBegin(rocksdb::DB*, const rocksdb::FlushJobInfo&) override { on_flush_begin_(); }

  void OnFlushCompleted(rocksdb::DB*, const rocksdb::FlushJobInfo& info) override {
    {
      std::lock_guard lock(mu_);
      uint64_t& flushed = flushed_[info.cf_id];
      flushed = std::max<uint64_t>(flushed, info.largest_seqno);
    }
    flushes_.fetch_add(1, std::memory_order_release);
    on_flush_();
  }
  uint64_t FlushedThrough(uint32_t cf_id) const {
    std::lock_guard lock(mu_);
    auto it = flushed_.find(cf_id);
    return it == flushed_.end() ? 0 : it->second;
  }
  uint64_t flushes() const { return flushes_.load(std::memory_order_acquire); }

 private:
  const std::function<void()> on_flush_begin_;
  const std::function<void()> on_flush_;
  mutable std::mutex mu_;
  std::unordered_map<uint32_t, uint64_t> flushed_;
  std::atomic<uint64_t> flushes_{0};
};

void Store::ListenForFlushes(rocksdb::DBOptions* db_options) {
  // A flush may free journal files: wake the storage thread to see.
  // With --fsync always every record is synced before it is acknowledged.
  // Otherwise a flush is about to make locations durable whose batches may
  // still be only in the page cache: sync them first, so that a power loss
  // never leaves a location without its batch.
  flushes_ = std::make_shared<FlushListener>([this] { if (options_.fsync != FsyncPolicy::kAlways) SyncJournalFile(); },
                                             [this] {
                                               { std::lock_guard lock(mu_); }
                                               cv_.notify_one();
                                             });
  db_options->listeners.push_back(flushes_);
}

Status Store::OpenJournal() {
  JournalOptions journal_options;
  journal_options.dir = options_.data_dir + "/journal";
  // Every write waits for the disk with --fsync always: write the journal
  // over zeros laid down ahead of it, so its fdatasync commits no size
  // change (prezeroed_wal.h).
  journal_options.fs = options_.fsync == FsyncPolicy::kAlways
                           ? NewPrezeroedWalFileSystem(rocksdb::FileSystem::Default())
                           : rocksdb::FileSystem::Default();
  // And write each new file over a retired one, so that a burst that
  // outruns the zeros still overwrites blocks (journal.h: recycling).
  journal_options.recycle = options_.fsync == FsyncPolicy::kAlways;
  rocksdb::DB* db = db_.get();
  auto apply = [db](std::string_view record) {
    std::string_view write_batch = WriteBatchOfRecord(record);
    if (write_batch.empty()) return rocksdb::Status::Corruption("journal record with a bad batch prefix");
    rocksdb::WriteBatch batch{std::string(write_batch)};
    rocksdb::WriteOptions wo;
    wo.disableWAL = true;
    return db->Write(wo, &batch);
  };
  bool set_aside = false;
  rocksdb::Status s = Journal::Open(std::move(journal_options), apply, &set_aside, &journal_);
  if (s.ok() && set_aside) s = db->Flush(rocksdb::FlushOptions(), handles_);
  if (!s.ok()) return StorageError(s, "replay the journal in " + options_.data_dir);
  journal_->Covered(db->GetLatestSequenceNumber());
  return Status::Ok();
}

void Store::CloseJournal() {
  if (!journal_) return;
  // Flushed memtables leave the journal nothing to replay at the next start.
  rocksdb::Status synced = journal_->Close();
  if (!synced.ok()) spdlog::get("storage")->error("journal sync failed: {}", synced.ToString());
  if (db_->Flush(rocksdb::FlushOptions(), handles_).ok()) {
    RetireFlushedFiles();
  }
  journal_.reset();
}

bool Store::FlushedSinceRetire() const { return flushes_->flushes() != retired_at_flush_; }

void Store::RunIntervalSyncer() {
  std::unique_lock lock(syncer_mu_);
  while (!syncer_cv_.wait_for(lock, options_.fsync_interval, [this] { return syncer_stopping_; })) {
    if (journal_unsynced_.exchange(false, std::memory_order_acq_rel)) SyncJournalFile();
  }
}

rocksdb::Status Store::WriteJournaled(rocksdb::WriteBatch& batch, bool sync, std::string* record,
                                      const JournalPosition* at) {
  rocksdb::Status s = record ? journal_->AppendFramed(record, at) : journal_->Append(batch.Data());
  journal_file_written_.store(journal_->current_file(), std::memory_order_release);
  if (s.ok() && sync) s = journal_->Sync();
  if (s.ok()) {
    rocksdb::WriteOptions wo;
    wo.disableWAL = true;  // the journal is the write-ahead log
    s = db_->Write(wo, &batch);
  }
  if (!s.ok()) {
    // Not acknowledged, so not to be replayed either.
    journal_->Discard();
    return s;
  }
  journal_->Covered(db_->GetLatestSequenceNumber());
  if (!sync) journal_unsynced_.store(true, std::memory_order_release);
  return s;
}

void Store::RetireJournal() {
  if (const uint64_t flushes = flushes_->flushes(); flushes != retired_at_flush_ || segments_dirty_) {
    retired_at_flush_ = flushes;
    segments_dirty_ = false;
    RetireFlushedFiles();
    PunchDeadRanges();
  }
  // Families that see few writes rarely fill a memtable, and each keeps the
  // journal files holding its writes. Past a bound, flush them all, as
  // RocksDB's max_total_wal_size did: a start replays no more than this.
  const uint64_t bytes = journal_->replay_bytes();
  if (bytes < kJournalFlushBytes) {
    forced_flush_at_bytes_ = 0;
  } else if (bytes >= forced_flush_at_bytes_ + kJournalFlushBytes / 4) {
    rocksdb::FlushOptions fo;
    fo.wait = false;
    fo.allow_write_stall = true;
    rocksdb::Status s = db_->Flush(fo, handles_);
    if (!s.ok()) spdlog::get("storage")->warn("flush for the journal's sake: {}", s.ToString());
    forced_flush_at_bytes_ = bytes;
  }
}

void Store::LoadSegments() {
  std::vector<uint64_t> files = journal_->FileNumbers();
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), meta_cf_));
  for (it->Seek(keys::kSegmentPrefix); it->Valid(); it->Next()) {
    std::string_view key = it->key().ToStringView();
    std::string_view value = it->value().ToStringView();
    if (!key.starts_with(keys::kSegmentPrefix)) break;
    if (key.size() != keys::kSegmentPrefix.size() + 16 || value.size() != 8) continue;
    const uint64_t file = keys::GetBigEndian64(key.substr(keys::kSegmentPrefix.size()));
    const uint64_t topic = keys::GetBigEndian64(key.substr(keys::kSegmentPrefix.size() + 8));
    if (std::find(files.begin(), files.end(), file) == files.end()) {
      // The file went, and a crash came before the next commit deleted this.
      stale_segment_keys_.push_back(std::string(key));
      continue;
    }
    segment_topics_[file][topic] = keys::GetBigEndian64(value);
  }
  segments_dirty_ = true;  // the first retire sweeps segments no topic needs any more
}

void Store::RetireFlushedFiles() {
  journal_->Retire(
      FlushedSequence(), [this](uint64_t file) { return HoldsLiveBatches(file); },
      [this](uint64_t file) { SegmentRemoved(file); });
}

bool Store::HoldsLiveBatches(uint64_t file) {
  auto it = segment_topics_.find(file);
  if (it == segment_topics_.end()) return false;
  std::lock_guard lock(topics_mu_);
  for (const auto& [topic_id, end] : it->second) {
    auto t = topics_.find(topic_id);
    if (t != topics_.end() && t->second.earliest_offset < end) return true;
  }
  return false;
}

void Store::SegmentRemoved(uint64_t file) {
  reader_->Forget(file);
  auto it = segment_topics_.find(file);
  if (it == segment_topics_.end()) return;
  for (const auto& [topic_id, end] : it->second) stale_segment_keys_.push_back(keys::SegmentKey(file, topic_id));
  segment_topics_.erase(it);
}

void Store::SyncJournalFile() {
  const uint64_t file = journal_file_written_.load(std::memory_order_acquire);
  if (file == 0) return;
  for (const std::string& path : Journal::PathsOf(options_.data_dir + "/journal", file)) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    if (::fdatasync(fd) != 0) spdlog::get("storage")->error("journal sync failed: {}", std::strerror(errno));
    ::close(fd);
    return;
  }
}

uint64_t Store::FlushedSequence() const {
  uint64_t flushed = db_->GetLatestSequenceNumber();
  for (rocksdb::ColumnFamilyHandle* cf : handles_) {
    uint64_t active = 0, immutable = 0;
    db_->GetIntProperty(cf, rocksdb::DB::Properties::kNumEntriesActiveMemTable, &active);
    db_->GetIntProperty(cf, rocksdb::DB::Properties::kNumEntriesImmMemTables, &immutable);
    // A family with nothing in memtables has flushed all its writes; one with
    // something there has flushed those up to its last flush's largest
    // sequence number, no further (in place updates keep an entry's first
    // number, so that bound may be low, never high). Range deletions count
    // as entries, and every batch that has one also writes the meta family.
    if (active + immutable > 0) flushed = std::min(flushed, flushes_->FlushedThrough(cf->GetID()));
  }
  return flushed;
}

}  // namespace herald::broker
