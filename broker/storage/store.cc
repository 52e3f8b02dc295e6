#include "broker/storage/store.h"

#include <rocksdb/db.h>
#include <rocksdb/cache.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/transaction_log.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>

#include "broker/storage/key_codec.h"
#include "broker/storage/varint.h"

namespace herald::broker {

namespace {

constexpr std::size_t kRecentBatchesPerProducer = 1024;
constexpr const char* kLogCf = "log";
constexpr const char* kGroupsCf = "groups";
constexpr const char* kProducersCf = "producers";
constexpr const char* kIndexCf = "index";
constexpr std::size_t kTopicMetaBytes = 32;  // id + retention (8 bytes: id only, older format)

Status StorageError(const rocksdb::Status& s, std::string_view what) {
  return Status(wire::ErrorCode::StorageError, fmt::format("{}: {}", what, s.ToString()));
}

std::string EncodeProducer(uint64_t last_sequence, uint64_t base_sequence, uint64_t base_offset) {
  std::string v;
  codec::PutFixed64(&v, last_sequence);
  codec::PutFixed64(&v, base_sequence);
  codec::PutFixed64(&v, base_offset);
  return v;
}

std::string EncodeSummary(uint32_t count, uint32_t bytes, int64_t timestamp_ms) {
  std::string v;
  codec::PutFixed32(&v, count);
  codec::PutFixed32(&v, bytes);
  codec::PutFixed64(&v, static_cast<uint64_t>(timestamp_ms));
  return v;
}

std::optional<BatchSummary> DecodeSummary(std::string_view key, std::string_view value) {
  if (key.size() != 16) return std::nullopt;
  codec::Reader in(value);
  BatchSummary b;
  b.base_offset = keys::GetBigEndian64(key.substr(8));
  b.count = in.Fixed32();
  b.bytes = in.Fixed32();
  b.timestamp_ms = static_cast<int64_t>(in.Fixed64());
  if (!in.ok() || b.count == 0) return std::nullopt;
  return b;
}

std::string EncodeTopicMeta(uint64_t id, const RetentionPolicy& r) {
  std::string v = keys::TopicPrefix(id);
  keys::PutBigEndian64(&v, r.max_age_ms);
  keys::PutBigEndian64(&v, r.max_bytes);
  keys::PutBigEndian64(&v, r.max_messages);
  return v;
}

// Iterator bounds for one topic's keys in the log, index, groups or producers CF.
struct TopicRange {
  explicit TopicRange(uint64_t topic_id)
      : lower(keys::TopicPrefix(topic_id)), upper(keys::TopicPrefix(topic_id + 1)),
        lower_slice(lower), upper_slice(upper) {
    options.iterate_lower_bound = &lower_slice;
    options.iterate_upper_bound = &upper_slice;
  }
  std::string lower, upper;
  rocksdb::Slice lower_slice, upper_slice;
  rocksdb::ReadOptions options;
};

}  // namespace

// One group commit: the appends and group positions drained from the queue
// in one go, staged against the committed state, written as one WriteBatch.
// Nothing of the staged state becomes visible unless the write succeeds.
class Store::Commit {
 public:
  explicit Commit(Store& store) : store_(store) {}

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
    std::string key = keys::LogKey(req.topic_id, next);
    batch_.Put(store_.index_cf_, key,
               EncodeSummary(req.count, static_cast<uint32_t>(req.batch.size()),
                             RecordBatch::PeekTimestamp(req.batch)));
    batch_.Put(store_.log_cf_, key, req.batch);
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
    Status status;
    if (batch_.Count() > 0 && !store_.EnsureWritable(&status)) {
      // The database refuses writes since a failure (disk full, I/O error):
      // fail fast without touching it, until a resume succeeds.
    } else if (batch_.Count() > 0) {
      rocksdb::WriteOptions wo;
      wo.sync = sync_;
      auto started = std::chrono::steady_clock::now();
      rocksdb::Status s = store_.db_->Write(wo, &batch_);
      if (sync_ && store_.options_.on_sync) store_.options_.on_sync(std::chrono::steady_clock::now() - started);
      store_.write_failing_.store(!s.ok(), std::memory_order_relaxed);
      if (!s.ok()) {
        status = StorageError(s, "write");
        spdlog::get("storage")->error("group commit of {} records failed: {}", batch_.Count(),
                                      s.ToString());
      } else if (!sync_) {
        store_.wal_dirty_ = true;
      } else {
        store_.wal_dirty_ = false;
        store_.last_sync_ = std::chrono::steady_clock::now();
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
  rocksdb::WriteBatch batch_;
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

  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.IncreaseParallelism(2);
  // Writes go to the WAL file before they complete (no manual WAL flush), so a
  // completed write survives a crash of the broker process in every fsync mode.
  db_options.manual_wal_flush = false;

  // Memory: memtables of every column family together stay under 16 MiB (the
  // write buffer manager flushes the largest when they reach it), and one
  // 8 MiB block cache holds data, index and filter blocks of every SST, so
  // the broker's footprint does not grow with the amount of data stored.
  db_options.db_write_buffer_size = options.memtable_budget_bytes;
  auto block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  rocksdb::BlockBasedTableOptions table_options;
  table_options.block_cache = block_cache;
  table_options.cache_index_and_filter_blocks = true;
  table_options.pin_l0_filter_and_index_blocks_in_cache = true;
  auto table_factory = std::shared_ptr<rocksdb::TableFactory>(rocksdb::NewBlockBasedTableFactory(table_options));

  rocksdb::ColumnFamilyOptions log_options;
  // Memtables of 8 MiB: large enough that a burst of publishes rarely waits
  // for a flush, small enough that a restart replays little write-ahead log.
  log_options.write_buffer_size = options.memtable_budget_bytes / 2;
  log_options.max_write_buffer_number = 2;
  log_options.compression = rocksdb::kLZ4Compression;
  log_options.table_factory = table_factory;
  rocksdb::ColumnFamilyOptions small_options;
  small_options.write_buffer_size = 4u << 20;
  small_options.table_factory = table_factory;

  std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, small_options},
      {kLogCf, log_options},
      {kGroupsCf, small_options},
      {kProducersCf, small_options},
      {kIndexCf, small_options},
  };
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_options, options.data_dir, families, &store->handles_, &raw);
  if (!s.ok()) return StorageError(s, "open " + options.data_dir);
  store->db_.reset(raw);
  store->meta_cf_ = store->handles_[0];
  store->log_cf_ = store->handles_[1];
  store->groups_cf_ = store->handles_[2];
  store->producers_cf_ = store->handles_[3];
  store->index_cf_ = store->handles_[4];

  Status loaded = store->LoadTopics();
  if (!loaded.ok()) return loaded;
  store->last_sync_ = std::chrono::steady_clock::now();
  store->thread_ = std::thread([s = store.get()] { s->Run(); });
  *out = std::move(store);
  return Status::Ok();
}

Store::~Store() {
  if (thread_.joinable()) {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  if (db_) {
    if (wal_dirty_) db_->SyncWAL();
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
    uint32_t count = RecordBatch::PeekCount(log->value().ToStringView());
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
    std::string_view value = log->value().ToStringView();
    batch.Put(index_cf_, log->key(),
              EncodeSummary(RecordBatch::PeekCount(value), static_cast<uint32_t>(value.size()),
                            RecordBatch::PeekTimestamp(value)));
  }
  if (!log->status().ok()) return StorageError(log->status(), "rebuild index");
  rocksdb::WriteOptions wo;
  wo.sync = true;
  rocksdb::Status s = db_->Write(wo, &batch);
  return s.ok() ? Status::Ok() : StorageError(s, "rebuild index");
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
  for (;;) {
    {
      std::unique_lock lock(mu_);
      if (queue_.empty() && !stopping_) {
        if (options_.fsync == FsyncPolicy::kInterval && wal_dirty_) {
          cv_.wait_for(lock, options_.fsync_interval, [&] { return !queue_.empty() || stopping_; });
        } else {
          cv_.wait(lock, [&] { return !queue_.empty() || stopping_; });
        }
      }
      if (queue_.empty() && stopping_) return;
      // One commit takes up to max_commit_bytes of batches (at least one op):
      // the WriteBatch copies every value, so an unbounded commit would hold a
      // second copy of everything queued.
      std::size_t bytes = 0;
      while (!queue_.empty() && (ops.empty() || bytes < options_.max_commit_bytes)) {
        if (const auto* a = std::get_if<AppendOp>(&queue_.front())) bytes += a->request.batch.size();
        ops.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    ProcessAll(ops);
    ops.clear();
    MaybeSyncWal(false);
  }
}

void Store::MaybeSyncWal(bool force) {
  if (!wal_dirty_ || options_.fsync != FsyncPolicy::kInterval) return;
  auto now = std::chrono::steady_clock::now();
  if (!force && now - last_sync_ < options_.fsync_interval) return;
  rocksdb::Status s = db_->SyncWAL();
  if (!s.ok()) spdlog::get("storage")->error("WAL sync failed: {}", s.ToString());
  wal_dirty_ = false;
  last_sync_ = now;
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
  rocksdb::WriteOptions wo;
  wo.sync = true;
  rocksdb::Status s = db_->Write(wo, &batch);
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

  std::string lo = keys::LogKey(op.topic_id, 0), hi = keys::LogKey(op.topic_id, new_earliest);
  rocksdb::WriteBatch batch;
  batch.DeleteRange(log_cf_, lo, hi);
  batch.DeleteRange(index_cf_, lo, hi);
  batch.Put(meta_cf_, keys::TopicStartKey(op.topic_id), keys::TopicPrefix(new_earliest));
  batch.Put(meta_cf_, keys::TopicBytesKey(op.topic_id),
            keys::TopicPrefix(topic->bytes - std::min(topic->bytes, removed_bytes)));
  rocksdb::WriteOptions wo;
  wo.sync = true;
  rocksdb::Status s = db_->Write(wo, &batch);
  if (!s.ok()) return op.done(StorageError(s, "truncate"), {}, false);
  TopicState t;
  {
    std::lock_guard lock(topics_mu_);
    TopicState& state = topics_[op.topic_id];
    state.earliest_offset = new_earliest;
    state.bytes -= std::min(state.bytes, removed_bytes);
    t = state;
  }
  op.done(Status::Ok(), t, false);
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
  std::string lo = keys::TopicPrefix(id), hi = keys::TopicPrefix(id + 1);
  rocksdb::WriteBatch batch;
  batch.Delete(meta_cf_, keys::TopicMetaKey(op.name));
  batch.Delete(meta_cf_, keys::TopicStartKey(id));
  batch.Delete(meta_cf_, keys::TopicBytesKey(id));
  batch.DeleteRange(log_cf_, lo, hi);
  batch.DeleteRange(index_cf_, lo, hi);
  batch.DeleteRange(groups_cf_, lo, hi);
  batch.DeleteRange(producers_cf_, lo, hi);
  rocksdb::WriteOptions wo;
  wo.sync = true;
  rocksdb::Status s = db_->Write(wo, &batch);
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
  for (; it->Valid() && bytes < max_bytes && messages < max_messages; it->Next()) {
    uint64_t base = keys::GetBigEndian64(it->key().ToStringView().substr(8));
    auto batch = RecordBatch::Parse(base, it->value().ToString());
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
  // Flush every column family first: the write-ahead log that still holds the
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

uint64_t Store::StorageBytes() const {
  uint64_t total = 0;
  for (rocksdb::ColumnFamilyHandle* cf : handles_) {
    uint64_t v = 0;
    if (db_->GetIntProperty(cf, rocksdb::DB::Properties::kTotalSstFilesSize, &v)) total += v;
  }
  rocksdb::VectorLogPtr files;
  if (db_->GetSortedWalFiles(files).ok()) {
    for (const auto& f : files) total += f->SizeFileBytes();
  }
  return total;
}

}  // namespace herald::broker
