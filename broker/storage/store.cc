#include "broker/storage/store.h"

#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>

#include "broker/storage/batch_location.h"
#include "broker/storage/disk_reserve.h"
#include "broker/storage/journal.h"  // the journal_ member goes with the store
#include "broker/storage/journal_reader.h"
#include "broker/storage/key_codec.h"
#include "broker/storage/rocksdb_setup.h"
#include "broker/storage/store_internal.h"
#include "broker/storage/varint.h"

namespace herald::broker {

using namespace store_internal;

namespace {

constexpr std::size_t kTopicMetaBytes = 32;  // id + retention (8 bytes: id only, older format)

}  // namespace

Status Store::Open(const StoreOptions& options, std::unique_ptr<Store>* out) {
  std::unique_ptr<Store> store(new Store());
  store->options_ = options;
  store->commit_batch_ = store->NewCommitBatch();
  store->commit_batches_.reserve(store->CommitRecordReserve());
  store->reader_ = std::make_unique<JournalReader>(options.data_dir + "/journal");

  // Opening writes (a MANIFEST, an OPTIONS file, flushed memtables of the
  // journal's replay): on a full disk the reserve makes the room for it.
  store->reserve_ = std::make_unique<DiskReserve>(options.data_dir, options.disk_reserve_bytes);
  store->reserve_->ReleaseIfShort(options.disk_reserve_bytes);

  RocksDbSetup setup = MakeRocksDbSetup(options);
  store->ListenForFlushes(&setup.db);
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(setup.db, options.data_dir, setup.families, &store->handles_, &raw);
  if (s.IsNoSpace() && store->reserve_->Release()) {
    s = rocksdb::DB::Open(setup.db, options.data_dir, setup.families, &store->handles_, &raw);
  }
  if (!s.ok()) return StorageError(s, "open " + options.data_dir);
  store->db_.reset(raw);
  store->meta_cf_ = store->handles_[RocksDbSetup::kMeta];
  store->log_cf_ = store->handles_[RocksDbSetup::kLog];
  store->groups_cf_ = store->handles_[RocksDbSetup::kGroups];
  store->producers_cf_ = store->handles_[RocksDbSetup::kProducers];
  store->index_cf_ = store->handles_[RocksDbSetup::kIndex];

  if (Status journal = store->OpenJournal(); !journal.ok()) return journal;
  store->LoadSegments();

  Status loaded = store->LoadTopics();
  if (!loaded.ok()) return loaded;
  // Without its reserve (a full disk, or the first start) the broker takes no
  // writes until the reserve is back and two commits fit (EnsureWritable).
  if (!store->reserve_->Restore(2 * options.max_commit_bytes)) {
    store->write_failing_.store(true, std::memory_order_relaxed);
    store->resume_error_ = store->NoSpaceError();
  }
  store->thread_ = std::thread([s = store.get()] { s->Run(); });
  if (options.fsync == FsyncPolicy::kInterval) {
    store->syncer_ = std::thread([s = store.get()] { s->RunIntervalSyncer(); });
  }
  *out = std::move(store);
  return Status::Ok();
}

Store::~Store() {
  if (syncer_.joinable()) {
    {
      std::lock_guard lock(syncer_mu_);
      syncer_stopping_ = true;
    }
    syncer_cv_.notify_one();
    syncer_.join();
  }
  if (thread_.joinable()) {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  if (db_) {
    CloseJournal();
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
    db_->Close();
  }
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

std::vector<TopicRecord> Store::Topics() {
  std::lock_guard lock(topics_mu_);
  std::vector<TopicRecord> out;
  out.reserve(topics_.size());
  for (const auto& [id, t] : topics_) out.push_back(t);
  return out;
}

std::optional<TopicRecord> Store::FindTopic(uint64_t topic_id) {
  std::lock_guard lock(topics_mu_);
  auto it = topics_.find(topic_id);
  if (it == topics_.end()) return std::nullopt;
  return it->second;
}

Status Store::LoadGroups(std::vector<GroupRecord>* groups) {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), groups_cf_));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::string_view key = it->key().ToStringView();
    if (key.size() <= 8) continue;
    groups->push_back({keys::GetBigEndian64(key), std::string(key.substr(8)), it->value().ToString()});
  }
  return it->status().ok() ? Status::Ok() : StorageError(it->status(), "scan groups");
}

void Store::Append(AppendRequest request, AppendDone done) {
  // Refused here, not wrapped in a 32-bit length further down.
  if (request.batch.size() > RecordBatch::kMaxBytes || request.count == 0 ||
      RecordBatch::PeekCount(request.batch) != request.count) {
    AppendResult refused;
    refused.status = Status(wire::ErrorCode::InvalidArgument,
                            fmt::format("a batch of {} bytes and {} messages cannot be stored (at most {} bytes)",
                                        request.batch.size(), request.count, RecordBatch::kMaxBytes));
    return done(std::move(refused));
  }
  Enqueue(AppendOp{std::move(request), std::move(done)});
}
void Store::CreateTopic(std::string name, RetentionPolicy retention, TopicDone done) {
  Enqueue(CreateTopicOp{std::move(name), retention, std::move(done), /*alter=*/false});
}
void Store::AlterTopic(std::string name, RetentionPolicy retention, TopicDone done) {
  Enqueue(CreateTopicOp{std::move(name), retention, std::move(done), /*alter=*/true});
}
void Store::Truncate(uint64_t topic_id, uint64_t before, TopicDone done) {
  Enqueue(TruncateOp{topic_id, before, std::move(done)});
}
void Store::DeleteGroup(uint64_t topic_id, std::string group, Done done) {
  Enqueue(DeleteGroupOp{topic_id, std::move(group), std::move(done)});
}
void Store::DeleteTopic(std::string name, Done done) {
  Enqueue(DeleteTopicOp{std::move(name), std::move(done)});
}
void Store::PutGroup(uint64_t topic_id, std::string group, std::string position, bool sync,
                     Done done) {
  Enqueue(PutGroupOp{topic_id, std::move(group), std::move(position), sync, std::move(done)});
}

void Store::Enqueue(Op op) {
  bool was_empty;
  {
    std::lock_guard lock(mu_);
    was_empty = queue_.empty();
    queue_.push_back(std::move(op));
  }
  if (was_empty) cv_.notify_one();
}

void Store::Run() {
  std::deque<Op> ops;
  auto flushed = [this] { return FlushedSinceRetire(); };
  for (;;) {
    {
      std::unique_lock lock(mu_);
      if (queue_.empty() && !stopping_) {
        cv_.wait(lock, [&] { return !queue_.empty() || stopping_ || flushed(); });
      }
      if (queue_.empty() && stopping_) return;
      // One commit takes up to max_commit_bytes of batches (at least one op):
      // the WriteBatch copies every value, so an unbounded commit would hold a
      // second copy of everything queued, and one that stays within the bound
      // fits the WriteBatch reserved for it.
      std::size_t bytes = 0;
      while (!queue_.empty()) {
        const auto* a = std::get_if<AppendOp>(&queue_.front());
        const std::size_t size = a ? a->request.batch.size() : 0;
        if (!ops.empty() && bytes + size > options_.max_commit_bytes) break;
        bytes += size;
        ops.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    ProcessAll(ops);
    ops.clear();
    RetireJournal();
  }
}

void Store::ApplyCreateTopic(CreateTopicOp& op) {
  std::optional<TopicState> existing;
  {
    std::lock_guard lock(topics_mu_);
    if (auto it = topic_ids_.find(op.name); it != topic_ids_.end()) existing = topics_[it->second];
  }
  if (existing && !op.alter) return op.done(Status::Ok(), *existing, false);
  if (!existing && op.alter) {
    return op.done(Status(wire::ErrorCode::TopicNotFound, "no topic '" + op.name + "'"), {}, false);
  }
  uint64_t id = existing ? existing->id : next_topic_id_;
  rocksdb::WriteBatch batch;
  batch.Put(meta_cf_, keys::TopicMetaKey(op.name), EncodeTopicMeta(id, op.retention));
  if (!existing) batch.Put(meta_cf_, keys::kNextTopicIdKey, keys::TopicPrefix(id + 1));
  rocksdb::Status s = WriteJournaled(batch, true);
  if (!s.ok()) return op.done(StorageError(s, op.alter ? "alter topic" : "create topic"), {}, false);
  TopicState t;
  {
    std::lock_guard lock(topics_mu_);
    if (!existing) {
      next_topic_id_ = id + 1;
      topic_ids_[op.name] = id;
      topics_[id] = TopicState{id, op.name, 0, 0, 0, op.retention};
    }
    topics_[id].retention = op.retention;
    t = topics_[id];
  }
  op.done(Status::Ok(), t, !existing);
}

void Store::ApplyDeleteTopic(DeleteTopicOp& op) {
  uint64_t id;
  {
    std::lock_guard lock(topics_mu_);
    auto it = topic_ids_.find(op.name);
    if (it == topic_ids_.end()) {
      op.done(Status(wire::ErrorCode::TopicNotFound, "no topic '" + op.name + "'"));
      return;
    }
    id = it->second;
  }
  DeadRanges dead;
  if (Status ranges = RangesOfBatches(id, kUnknownOffset, &dead); !ranges.ok()) return op.done(ranges);
  std::string lo = keys::TopicPrefix(id), hi = keys::TopicPrefix(id + 1);
  rocksdb::WriteBatch batch;
  batch.Delete(meta_cf_, keys::TopicMetaKey(op.name));
  batch.Delete(meta_cf_, keys::TopicStartKey(id));
  batch.Delete(meta_cf_, keys::TopicBytesKey(id));
  batch.DeleteRange(log_cf_, lo, hi);
  batch.DeleteRange(index_cf_, lo, hi);
  batch.DeleteRange(groups_cf_, lo, hi);
  // Producer states are updated in place, and RocksDB does not support range
  // tombstones in such a family: a later Put to a covered key would take over
  // the old entry's sequence number and stay hidden. Topic ids are never
  // reused, so no such Put follows, but the keys go one by one anyway (one per
  // producer that wrote to the topic).
  {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), producers_cf_));
    for (it->Seek(lo); it->Valid() && it->key().compare(hi) < 0; it->Next())
      batch.Delete(producers_cf_, it->key());
    if (!it->status().ok()) {
      op.done(StorageError(it->status(), "delete topic"));
      return;
    }
  }
  rocksdb::Status s = WriteJournaled(batch, true);
  if (!s.ok()) {
    op.done(StorageError(s, "delete topic"));
    return;
  }
  {
    std::lock_guard lock(topics_mu_);
    topic_ids_.erase(op.name);
    topics_.erase(id);
  }
  std::erase_if(producers_, [id](const auto& p) { return p.first.topic_id == id; });
  segments_dirty_ = true;
  AddDeadRanges(std::move(dead));
  op.done(Status::Ok());
}

bool Store::EnsureWritable(Status* why) {
  if (!write_failing_.load(std::memory_order_relaxed)) return true;
  auto now = std::chrono::steady_clock::now();
  if (now - last_resume_attempt_ < kResumeInterval) {
    *why = resume_error_;
    return false;
  }
  last_resume_attempt_ = now;
  // A journal write that failed for want of space would fit now into the
  // spare file's zeros, a megabyte, and fail again past it: writes resume
  // once the disk has room for two full commits, and for the reserve first
  // if it was used (disk_reserve.h).
  const uint64_t room = 2 * options_.max_commit_bytes;
  if (!reserve_->Restore(room) || DiskReserve::FreeBytes(options_.data_dir) < room) {
    resume_error_ = NoSpaceError();
    *why = resume_error_;
    return false;
  }
  // After a failed write RocksDB keeps refusing writes (its background error);
  // Resume() clears it once the cause is gone (space freed), flushing first.
  rocksdb::Status s = db_->Resume();
  if (!s.ok()) {
    resume_error_ = StorageError(s, "storage unavailable since a failed write; retrying");
    *why = resume_error_;
    return false;
  }
  write_failing_.store(false, std::memory_order_relaxed);
  spdlog::get("storage")->info("storage writable again");
  return true;
}

Status Store::NoSpaceError() const {
  const uint64_t room = 2 * options_.max_commit_bytes + (reserve_->present() ? 0 : reserve_->bytes());
  return Status(wire::ErrorCode::StorageError,
                fmt::format("storage unavailable: less than {} bytes free on the data directory's disk; "
                            "retrying", room));
}

Store::ProducerState& Store::LoadProducer(const ProducerKey& key) {
  auto [it, fresh] = producers_.try_emplace(key);
  if (fresh) {
    std::string value;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), producers_cf_,
                                 keys::ProducerKey(key.topic_id, key.producer_id), &value);
    if (s.ok()) {
      codec::Reader in(value);
      uint64_t last = in.Fixed64(), base_seq = in.Fixed64(), base_offset = in.Fixed64();
      if (in.ok()) {
        it->second.last_sequence = last;
        it->second.recent.emplace_back(base_seq, base_offset);
      }
    }
  }
  return it->second;
}

}  // namespace herald::broker
