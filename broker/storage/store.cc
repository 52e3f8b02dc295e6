#include "broker/storage/store.h"

#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>
#include <sys/statvfs.h>

#include "broker/storage/batch_location.h"
#include "broker/storage/crc32c.h"
#include "broker/storage/journal.h"  // the journal_ member goes with the store
#include "broker/storage/journal_reader.h"
#include "broker/storage/key_codec.h"
#include "broker/storage/rocksdb_setup.h"
#include "broker/storage/store_internal.h"
#include "broker/storage/varint.h"

namespace herald::broker {

using namespace store_internal;

namespace {

constexpr std::size_t kRecentBatchesPerProducer = 1024;
constexpr std::size_t kTopicMetaBytes = 32;  // id + retention (8 bytes: id only, older format)

std::string EncodeProducer(uint64_t last_sequence, uint64_t base_sequence, uint64_t base_offset) {
  std::string v;
  codec::PutFixed64(&v, last_sequence);
  codec::PutFixed64(&v, base_sequence);
  codec::PutFixed64(&v, base_offset);
  return v;
}

}  // namespace

// One group commit: the appends and group positions drained from the queue
// in one go, staged against the committed state, written as one WriteBatch.
// Nothing of the staged state becomes visible unless the write succeeds.
class Store::Commit {
 public:
  explicit Commit(Store& store)
      : store_(store), batch_(*store.commit_batch_), batches_(store.commit_batches_) {
    batch_.Clear();
    batches_.assign(kRecordStart, '\0');
    // First, so that a file number given again after a restart that emptied
    // the journal keeps the keys this commit puts for it.
    stale_keys_ = store_.stale_segment_keys_.size();
    for (std::size_t i = 0; i < stale_keys_; ++i) batch_.Delete(store_.meta_cf_, store_.stale_segment_keys_[i]);
  }

  void AddAppend(AppendOp& op) {
    AppendRequest& req = op.request;
    AppendResult result;
    uint64_t next = 0;
    {
      std::lock_guard lock(store_.topics_mu_);
      auto it = store_.topics_.find(req.topic_id);
      if (it == store_.topics_.end()) {
        result.status = Status(wire::ErrorCode::TopicNotFound, "topic was deleted");
        immediate_.push_back({std::move(op.done), std::move(result)});
        return;
      }
      auto staged = next_offsets_.find(req.topic_id);
      next = staged != next_offsets_.end() ? staged->second : it->second.next_offset;
    }
    if (req.producer_id != 0) {
      ProducerKey key{req.topic_id, req.producer_id};
      auto [staged_it, fresh] = producers_.try_emplace(key);
      StagedProducer& sp = staged_it->second;
      if (fresh) sp.last_sequence = store_.LoadProducer(key).last_sequence;
      if (req.base_sequence <= sp.last_sequence) {
        result.duplicate = true;
        result.base_offset = FindRecent(key, sp, req.base_sequence);
        immediate_.push_back({std::move(op.done), std::move(result)});
        return;
      }
      sp.last_sequence = req.base_sequence + req.count - 1;
      sp.added.emplace_back(req.base_sequence, next);
      batch_.Put(store_.producers_cf_, keys::ProducerKey(req.topic_id, req.producer_id),
                 EncodeProducer(sp.last_sequence, req.base_sequence, next));
    }
    if (!prepared_) {
      // The batches go into this commit's journal record; their log keys
      // say where (batch_location.h), so the record's position is needed now.
      prepare_status_ = store_.journal_->Prepare(&position_);
      prepared_ = true;
    }
    BatchLocation location;
    location.file = position_.file;
    location.offset = position_.offset + (batches_.size() - Journal::kRecordHeaderBytes);
    location.length = static_cast<uint32_t>(req.batch.size());
    location.crc = crc32c::Value(req.batch);
    location.count = req.count;
    location.timestamp_ms = RecordBatch::PeekTimestamp(req.batch);
    batches_.append(req.batch);
    std::string key = keys::LogKey(req.topic_id, next);
    batch_.Put(store_.index_cf_, key,
               EncodeSummary(req.count, location.length, location.timestamp_ms));
    batch_.Put(store_.log_cf_, key, location.Encode());
    segment_ends_[req.topic_id] = next + req.count;
    next_offsets_[req.topic_id] = next + req.count;
    added_bytes_[req.topic_id] += req.batch.size();
    sync_ |= store_.options_.fsync == FsyncPolicy::kAlways;
    result.base_offset = next;
    written_.push_back({std::move(op.done), std::move(result), std::move(req.batch)});
  }

  void AddPutGroup(PutGroupOp& op) {
    batch_.Put(store_.groups_cf_, keys::GroupKey(op.topic_id, op.group), op.position);
    sync_ |= op.sync;
    if (op.done) group_dones_.push_back(std::move(op.done));
  }

  void AddDeleteGroup(DeleteGroupOp& op) {
    batch_.Delete(store_.groups_cf_, keys::GroupKey(op.topic_id, op.group));
    sync_ = true;
    if (op.done) group_dones_.push_back(std::move(op.done));
  }

  bool empty() const {
    return written_.empty() && immediate_.empty() && group_dones_.empty() && batch_.Count() == 0;
  }

  // Writes the batch, publishes the staged state, then runs every callback.
  void Finish() {
    StageTopicBytes();
    StageSegmentEnds();
    Status status;
    if (batch_.Count() > 0 && !store_.EnsureWritable(&status)) {
      // The database refuses writes since a failure (disk full, I/O error):
      // fail fast without touching it, until a resume succeeds.
    } else if (!prepare_status_.ok()) {
      status = StorageError(prepare_status_, "write");
      store_.write_failing_.store(true, std::memory_order_relaxed);
      spdlog::get("storage")->error("group commit: no journal file to write: {}", prepare_status_.ToString());
    } else if (batch_.Count() > 0) {
      auto started = std::chrono::steady_clock::now();
      const bool with_batches = batches_.size() > kRecordStart;
      if (with_batches) {
        // The journal record: its header's room, the prefix, the batches,
        // then the WriteBatch (store_internal.h), written as one.
        std::string prefix;
        codec::PutFixed32(&prefix, kBatchRecordMagic);
        codec::PutFixed32(&prefix, static_cast<uint32_t>(batches_.size() - kRecordStart));
        batches_.replace(Journal::kRecordHeaderBytes, kBatchRecordPrefixBytes, prefix);
        batches_.append(batch_.Data());
      }
      rocksdb::Status s = store_.WriteJournaled(batch_, sync_, with_batches ? &batches_ : nullptr,
                                                with_batches ? &position_ : nullptr);
      if (sync_ && store_.options_.on_sync) store_.options_.on_sync(std::chrono::steady_clock::now() - started);
      store_.write_failing_.store(!s.ok(), std::memory_order_relaxed);
      if (!s.ok()) {
        status = StorageError(s, "write");
        spdlog::get("storage")->error("group commit of {} records failed: {}", batch_.Count(),
                                      s.ToString());
      }
    }
    if (status.ok()) Publish();
    for (auto& w : written_) {
      if (status.ok()) {
        w.result.batch = RecordBatch::Parse(w.result.base_offset, std::move(w.bytes));
      } else {
        w.result = AppendResult();
        w.result.status = status;
      }
      w.done(std::move(w.result));
    }
    for (auto& i : immediate_) i.done(std::move(i.result));
    for (auto& d : group_dones_) d(status);
  }

 private:
  struct StagedProducer {
    uint64_t last_sequence = 0;
    std::vector<std::pair<uint64_t, uint64_t>> added;  // (base_sequence, base_offset)
  };
  struct Written {
    AppendDone done;
    AppendResult result;
    std::string bytes;
  };
  struct Immediate {
    AppendDone done;
    AppendResult result;
  };

  // Which topics' batches the journal file holds rides in the same write
  // (store.h: segment_topics_), so that a restart knows which files to keep.
  void StageSegmentEnds() {
    for (const auto& [topic_id, end] : segment_ends_) {
      batch_.Put(store_.meta_cf_, keys::SegmentKey(position_.file, topic_id), keys::TopicPrefix(end));
    }
  }

  // Each topic's byte count rides in the same write as its batches, so that
  // a restart reads one key instead of summing the whole index.
  void StageTopicBytes() {
    std::lock_guard lock(store_.topics_mu_);
    for (const auto& [topic_id, added] : added_bytes_) {
      auto it = store_.topics_.find(topic_id);
      if (it == store_.topics_.end()) continue;
      batch_.Put(store_.meta_cf_, keys::TopicBytesKey(topic_id), keys::TopicPrefix(it->second.bytes + added));
    }
  }

  uint64_t FindRecent(const ProducerKey& key, const StagedProducer& sp, uint64_t base_sequence) {
    for (const auto& [seq, offset] : sp.added)
      if (seq == base_sequence) return offset;
    for (const auto& [seq, offset] : store_.LoadProducer(key).recent)
      if (seq == base_sequence) return offset;
    return kUnknownOffset;
  }

  void Publish() {
    {
      std::lock_guard lock(store_.topics_mu_);
      for (const auto& [topic_id, next] : next_offsets_) {
        auto it = store_.topics_.find(topic_id);
        if (it != store_.topics_.end()) it->second.next_offset = next;
      }
      for (const auto& [topic_id, bytes] : added_bytes_) {
        auto it = store_.topics_.find(topic_id);
        if (it != store_.topics_.end()) it->second.bytes += bytes;
      }
    }
    auto& segment = store_.segment_topics_;
    for (const auto& [topic_id, end] : segment_ends_) {
      uint64_t& kept = segment[position_.file][topic_id];
      kept = std::max(kept, end);
    }
    auto& stale = store_.stale_segment_keys_;
    stale.erase(stale.begin(), stale.begin() + static_cast<std::ptrdiff_t>(stale_keys_));
    for (auto& [key, sp] : producers_) {
      ProducerState& state = store_.LoadProducer(key);
      state.last_sequence = sp.last_sequence;
      for (auto& entry : sp.added) {
        state.recent.push_back(entry);
        if (state.recent.size() > kRecentBatchesPerProducer) state.recent.pop_front();
      }
    }
  }

  Store& store_;
  rocksdb::WriteBatch& batch_;  // the store's, reused: see Store::commit_batch_
  // The store's, reused (Store::commit_batches_): room for the journal
  // record's header and the prefix, then the batches.
  static constexpr std::size_t kRecordStart = Journal::kRecordHeaderBytes + kBatchRecordPrefixBytes;
  std::string& batches_;
  bool prepared_ = false;
  rocksdb::Status prepare_status_;
  JournalPosition position_;
  std::unordered_map<uint64_t, uint64_t> segment_ends_;  // topic -> end offset in this commit
  std::size_t stale_keys_ = 0;  // of store_.stale_segment_keys_, deleted by this commit
  bool sync_ = false;
  std::unordered_map<uint64_t, uint64_t> next_offsets_;
  std::unordered_map<uint64_t, uint64_t> added_bytes_;
  std::unordered_map<ProducerKey, StagedProducer, ProducerKeyHash> producers_;
  std::vector<Written> written_;
  std::vector<Immediate> immediate_;
  std::vector<Done> group_dones_;
};

Status Store::Open(const StoreOptions& options, std::unique_ptr<Store>* out) {
  std::unique_ptr<Store> store(new Store());
  store->options_ = options;
  store->commit_batch_ = store->NewCommitBatch();
  store->commit_batches_.reserve(store->CommitRecordReserve());
  store->reader_ = std::make_unique<JournalReader>(options.data_dir + "/journal");

  RocksDbSetup setup = MakeRocksDbSetup(options);
  store->ListenForFlushes(&setup.db);
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(setup.db, options.data_dir, setup.families, &store->handles_, &raw);
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

void Store::ProcessAll(std::deque<Op>& ops) {
  // Appends and group positions form one group commit; a topic create or
  // delete first closes the commit in progress so that the order holds.
  auto commit = std::make_unique<Commit>(*this);
  for (Op& op : ops) {
    if (auto* a = std::get_if<AppendOp>(&op)) {
      commit->AddAppend(*a);
    } else if (auto* g = std::get_if<PutGroupOp>(&op)) {
      commit->AddPutGroup(*g);
    } else if (auto* dg = std::get_if<DeleteGroupOp>(&op)) {
      commit->AddDeleteGroup(*dg);
    } else {
      if (!commit->empty()) {
        commit->Finish();
        commit = std::make_unique<Commit>(*this);
      }
      if (auto* c = std::get_if<CreateTopicOp>(&op)) ApplyCreateTopic(*c);
      if (auto* d = std::get_if<DeleteTopicOp>(&op)) ApplyDeleteTopic(*d);
      if (auto* t = std::get_if<TruncateOp>(&op)) ApplyTruncate(*t);
    }
  }
  if (!commit->empty()) commit->Finish();
  commit.reset();
  // A single batch above max_commit_bytes makes its own commit: do not keep
  // the buffer it grew for the next thousand small ones.
  if (commit_batch_->Data().capacity() > CommitBatchReserve()) commit_batch_ = NewCommitBatch();
  if (commit_batches_.capacity() > CommitRecordReserve()) {
    std::string().swap(commit_batches_);
    commit_batches_.reserve(CommitRecordReserve());
  }
}

std::size_t Store::CommitBatchReserve() const {
  return options_.max_commit_bytes + options_.max_commit_bytes / 8;  // values plus keys and headers
}

std::size_t Store::CommitRecordReserve() const {
  // The batches, and their WriteBatch of locations and summaries (~130
  // bytes a batch) behind them.
  return options_.max_commit_bytes + options_.max_commit_bytes / 8 + (64u << 10);
}

std::unique_ptr<rocksdb::WriteBatch> Store::NewCommitBatch() const {
  return std::make_unique<rocksdb::WriteBatch>(CommitBatchReserve());
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
  // once the disk has room for two full commits.
  struct statvfs disk {};
  const uint64_t room = 2 * options_.max_commit_bytes;
  if (::statvfs(options_.data_dir.c_str(), &disk) == 0 &&
      static_cast<uint64_t>(disk.f_bavail) * disk.f_frsize < room) {
    resume_error_ = Status(wire::ErrorCode::StorageError,
                           fmt::format("storage unavailable: less than {} bytes free on the data "
                                       "directory's disk; retrying",
                                       room));
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
