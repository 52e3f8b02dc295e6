#include "broker/storage/store.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
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
    batch_.Put(store_.log_cf_, keys::LogKey(req.topic_id, next), req.batch);
    next_offsets_[req.topic_id] = next + req.count;
    sync_ |= store_.options_.fsync == FsyncPolicy::kAlways;
    result.base_offset = next;
    written_.push_back({std::move(op.done), std::move(result), std::move(req.batch)});
  }

  void AddPutGroup(PutGroupOp& op) {
    batch_.Put(store_.groups_cf_, keys::GroupKey(op.topic_id, op.group), op.position);
    sync_ |= op.sync;
    if (op.done) group_dones_.push_back(std::move(op.done));
  }

  bool empty() const {
    return written_.empty() && immediate_.empty() && group_dones_.empty() && batch_.Count() == 0;
  }

  // Writes the batch, publishes the staged state, then runs every callback.
  void Finish() {
    Status status;
    if (batch_.Count() > 0) {
      rocksdb::WriteOptions wo;
      wo.sync = sync_;
      rocksdb::Status s = store_.db_->Write(wo, &batch_);
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

  rocksdb::ColumnFamilyOptions log_options;
  log_options.write_buffer_size = 64 << 20;
  log_options.compression = rocksdb::kLZ4Compression;
  rocksdb::ColumnFamilyOptions small_options;

  std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, small_options},
      {kLogCf, log_options},
      {kGroupsCf, small_options},
      {kProducersCf, small_options},
  };
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_options, options.data_dir, families, &store->handles_, &raw);
  if (!s.ok()) return StorageError(s, "open " + options.data_dir);
  store->db_.reset(raw);
  store->meta_cf_ = store->handles_[0];
  store->log_cf_ = store->handles_[1];
  store->groups_cf_ = store->handles_[2];
  store->producers_cf_ = store->handles_[3];

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
    if (meta->value().size() != 8) return Status(wire::ErrorCode::StorageError, "corrupt topic record");
    TopicState t;
    t.name = std::string(key.substr(keys::kTopicMetaPrefix.size()));
    t.id = keys::GetBigEndian64(meta->value().ToStringView());

    // The log itself says where it starts and ends: its first and last batch.
    std::string lower = keys::TopicPrefix(t.id), upper = keys::TopicPrefix(t.id + 1);
    rocksdb::Slice lower_slice(lower), upper_slice(upper);
    rocksdb::ReadOptions ro;
    ro.iterate_lower_bound = &lower_slice;
    ro.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> log(db_->NewIterator(ro, log_cf_));
    log->SeekToFirst();
    if (log->Valid()) {
      t.earliest_offset = keys::GetBigEndian64(log->key().ToStringView().substr(8));
      log->SeekToLast();
      uint64_t base = keys::GetBigEndian64(log->key().ToStringView().substr(8));
      uint32_t count = RecordBatch::PeekCount(log->value().ToStringView());
      if (count == 0) return Status(wire::ErrorCode::StorageError, "corrupt batch in " + t.name);
      t.next_offset = base + count;
    }
    if (!log->status().ok()) return StorageError(log->status(), "scan log of " + t.name);
    topic_ids_[t.name] = t.id;
    topics_[t.id] = std::move(t);
  }
  if (!meta->status().ok()) return StorageError(meta->status(), "scan topics");
  return Status::Ok();
}

std::vector<TopicRecord> Store::Topics() {
  std::lock_guard lock(topics_mu_);
  std::vector<TopicRecord> out;
  out.reserve(topics_.size());
  for (const auto& [id, t] : topics_) out.push_back({t.id, t.name, t.earliest_offset, t.next_offset});
  return out;
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
void Store::CreateTopic(std::string name, TopicDone done) {
  Enqueue(CreateTopicOp{std::move(name), std::move(done)});
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
      ops.swap(queue_);
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
    } else {
      if (!commit->empty()) {
        commit->Finish();
        commit = std::make_unique<Commit>(*this);
      }
      if (auto* c = std::get_if<CreateTopicOp>(&op)) ApplyCreateTopic(*c);
      if (auto* d = std::get_if<DeleteTopicOp>(&op)) ApplyDeleteTopic(*d);
    }
  }
  if (!commit->empty()) commit->Finish();
}

void Store::ApplyCreateTopic(CreateTopicOp& op) {
  {
    std::lock_guard lock(topics_mu_);
    auto it = topic_ids_.find(op.name);
    if (it != topic_ids_.end()) {
      const TopicState& t = topics_[it->second];
      op.done(Status::Ok(), {t.id, t.name, t.earliest_offset, t.next_offset}, false);
      return;
    }
  }
  uint64_t id = next_topic_id_;
  std::string id_bytes = keys::TopicPrefix(id), next_id_bytes = keys::TopicPrefix(id + 1);
  rocksdb::WriteBatch batch;
  batch.Put(meta_cf_, keys::TopicMetaKey(op.name), id_bytes);
  batch.Put(meta_cf_, keys::kNextTopicIdKey, next_id_bytes);
  rocksdb::WriteOptions wo;
  wo.sync = true;
  rocksdb::Status s = db_->Write(wo, &batch);
  if (!s.ok()) {
    op.done(StorageError(s, "create topic"), {}, false);
    return;
  }
  next_topic_id_ = id + 1;
  TopicState t{id, op.name, 0, 0};
  {
    std::lock_guard lock(topics_mu_);
    topic_ids_[op.name] = id;
    topics_[id] = t;
  }
  op.done(Status::Ok(), {t.id, t.name, 0, 0}, true);
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
  batch.DeleteRange(log_cf_, lo, hi);
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

}  // namespace herald::broker
