#include "broker/storage/store.h"

#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>

#include <cstring>
#include <iterator>

#include "broker/storage/batch_location.h"
#include "broker/storage/disk_reserve.h"
#include "broker/storage/interval_syncer.h"
#include "broker/storage/side_sync.h"
#include "broker/storage/key_codec.h"
#include "broker/storage/prezeroed_wal.h"
#include "broker/storage/rocksdb_setup.h"
#include "broker/storage/segment_log.h"
#include "broker/storage/store_internal.h"
#include "broker/storage/varint.h"
#include "schemas/thread_name.h"

namespace herald::broker {

using namespace store_internal;

Status Store::Open(const StoreOptions& options, std::unique_ptr<Store>* out) {
  std::unique_ptr<Store> store(new Store());
  store->writer_role_.AssertHeld();  // its thread starts at the end
  store->options_ = options;
  store->commit_batch_ = store->NewCommitBatch();
  store->commit_batches_.reserve(options.max_commit_bytes);

  // Opening writes (a MANIFEST, an OPTIONS file, memtables flushed after
  // the WAL's replay): on a full disk the reserve makes the room for it.
  store->reserve_ = std::make_unique<DiskReserve>(options.data_dir, options.disk_reserve_bytes);
  store->reserve_->ReleaseIfShort(options.disk_reserve_bytes);

  RocksDbSetup setup = MakeRocksDbSetup(options);
  if (options.fsync == FsyncPolicy::kAlways) {
    // Every commit waits for a sync of the WAL too: write it over zeros laid
    // down ahead of it, so that the sync commits no size change.
    store->wal_env_ =
        rocksdb::NewCompositeEnv(NewPrezeroedWalFileSystem(rocksdb::FileSystem::Default(), store->PrezeroedOptions()));
    setup.db.env = store->wal_env_.get();
  }
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

  if (Status recovered = store->Recover(); !recovered.ok()) return recovered;
  // Without its reserve (a full disk, or the first start) the broker takes no
  // writes until the reserve is back and RoomForWrites is free (EnsureWritable).
  if (!store->reserve_->Restore(store->RoomForWrites())) {
    store->write_failing_.store(true, std::memory_order_relaxed);
    store->resume_error_ = store->NoSpaceError();
  }
  if (options.fsync == FsyncPolicy::kAlways) {
    SegmentLog* segments = store->segments_.get();
    store->segment_sync_ = std::make_unique<SideSync>([segments] { return segments->SyncWritten(); });
  }
  store->thread_ = std::thread([s = store.get()] {
    NameThisThread("storage");
    s->Run();
  });
  if (options.fsync == FsyncPolicy::kInterval) {
    Store* self = store.get();
    store->syncer_ = std::make_unique<IntervalSyncer>(options.fsync_interval, [self] { self->SyncWritten(); });
  }
  *out = std::move(store);
  return Status::Ok();
}

Store::~Store() {
  syncer_.reset();
  if (thread_.joinable()) {
    {
      MutexLock lock(mu_);
      stopping_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  if (segments_) {
    segments_->writer.AssertHeld();  // its writer has stopped
    if (rocksdb::Status closed = segments_->Close(); !closed.ok()) {
      spdlog::get("storage")->error("segment sync failed: {}", closed.ToString());
    }
  }
  if (db_) {
    if (options_.fsync != FsyncPolicy::kNever) db_->SyncWAL().PermitUncheckedError();
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
    db_->Close().PermitUncheckedError();
    db_.reset();
  }
}

std::vector<TopicRecord> Store::Topics() {
  MutexLock lock(topics_mu_);
  std::vector<TopicRecord> out;
  out.reserve(topics_.size());
  for (const auto& [id, t] : topics_) out.push_back(t);
  return out;
}

std::optional<TopicRecord> Store::FindTopic(uint64_t topic_id) {
  MutexLock lock(topics_mu_);
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
  const bool append = std::holds_alternative<AppendOp>(op);
  bool was_empty;
  {
    MutexLock lock(mu_);
    was_empty = queue_.empty();
    queue_.push_back(std::move(op));
  }
  if (!was_empty) return;  // whoever takes the queue next takes this too
  if (append && commit_inline_) {
    commit_inline_();
  } else {
    cv_.notify_one();
  }
}

void Store::CommitAppendsInline(std::function<void()> schedule) {
  if (options_.fsync == FsyncPolicy::kAlways) return;
  commit_inline_ = std::move(schedule);
}

void Store::TakeOps(std::vector<Op>& ops, std::size_t max_bytes, bool appends_only) {
  // One commit takes up to max_bytes of batches (at least one op, unless
  // appends_only and the first is something else): the WriteBatch and the
  // segment write buffer copy every batch, so an unbounded commit would hold
  // a second copy of everything queued, and one that stays within the bound
  // fits the buffers reserved for it.
  std::size_t bytes = 0, taken = 0;
  for (; taken < queue_.size(); ++taken) {
    const auto* a = std::get_if<AppendOp>(&queue_[taken]);
    if (appends_only && a == nullptr) break;
    const std::size_t size = a ? a->request.batch.size() : 0;
    if (taken > 0 && bytes + size > max_bytes) break;
    bytes += size;
  }
  if (taken == queue_.size()) {
    ops.swap(queue_);
  } else {
    const auto end = queue_.begin() + static_cast<std::ptrdiff_t>(taken);
    ops.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(end));
    queue_.erase(queue_.begin(), end);
  }
}

void Store::Run() {
  std::vector<Op> ops;
  for (;;) {
    {
      MutexLock lock(mu_);
      while (queue_.empty() && !stopping_) cv_.wait(mu_);
      if (queue_.empty() && stopping_) return;
    }
    // The writer role before the ops: an inline commit meanwhile takes ops
    // from the front only, so they still complete in submission order.
    MutexLock writer(writer_mu_);
    writer_role_.AssertHeld();
    {
      MutexLock lock(mu_);
      TakeOps(ops, options_.max_commit_bytes, /*appends_only=*/false);
    }
    if (!ops.empty()) ProcessAll(ops);
    ops.clear();
    if (segments_dirty_) RetireSegments();
  }
}

void Store::CommitQueuedAppends() {
  // After a failed write, EnsureWritable may try db->Resume(), which can
  // flush: that is the storage thread's to wait for.
  if (write_failing_.load(std::memory_order_relaxed)) {
    cv_.notify_one();
    return;
  }
  // Held: the storage thread is committing, and takes the queue when done.
  if (!writer_mu_.try_lock()) return;
  writer_role_.AssertHeld();
  bool rest;
  {
    MutexLock lock(mu_);
    TakeOps(inline_ops_, kMaxInlineCommitBytes, /*appends_only=*/true);
    rest = !queue_.empty();
  }
  // What is left (another operation, or the rest of a large burst) is the
  // storage thread's; nothing woke it when it was queued.
  if (rest) cv_.notify_one();
  if (!inline_ops_.empty()) ProcessAll(inline_ops_);
  inline_ops_.clear();
  writer_mu_.unlock();
}

void Store::ApplyCreateTopic(CreateTopicOp& op) {
  std::optional<TopicState> existing;
  {
    MutexLock lock(topics_mu_);
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
  rocksdb::Status s = WriteIndex(batch, true);
  if (!s.ok()) return op.done(StorageError(s, op.alter ? "alter topic" : "create topic"), {}, false);
  TopicState t;
  {
    MutexLock lock(topics_mu_);
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
    MutexLock lock(topics_mu_);
    auto it = topic_ids_.find(op.name);
    if (it == topic_ids_.end()) {
      op.done(Status(wire::ErrorCode::TopicNotFound, "no topic '" + op.name + "'"));
      return;
    }
    id = it->second;
  }
  BatchRanges removed;
  if (Status ranges = LocationsOfBatches(id, kUnknownOffset, &removed); !ranges.ok()) return op.done(ranges);
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
  rocksdb::Status s = WriteIndex(batch, true);
  if (!s.ok()) {
    op.done(StorageError(s, "delete topic"));
    return;
  }
  {
    MutexLock lock(topics_mu_);
    topic_ids_.erase(op.name);
    topics_.erase(id);
  }
  std::erase_if(producers_, [id](const auto& p) { return p.first.topic_id == id; });
  segments_dirty_ = true;
  ReleaseBatches(removed);
  op.done(Status::Ok());
}

void Store::Fail(const char* what, const std::string& error) {
  if (failed_.exchange(true, std::memory_order_acq_rel)) return;
  spdlog::get("storage")->error(
      "{} failed: {}; what it was to make durable may be lost, so the broker is refusing publishes until a "
      "restart replays what is on the disk",
      what, error);
}

Status Store::FailedError() const {
  return Status(wire::ErrorCode::StorageError,
                "storage failed: a write or sync of the log did not complete (see the broker's log); publishes "
                "are refused until the broker restarts");
}

bool Store::EnsureWritable(Status* why) {
  if (failed()) {
    *why = FailedError();
    return false;
  }
  if (!write_failing_.load(std::memory_order_relaxed)) return true;
  auto now = std::chrono::steady_clock::now();
  if (now - last_resume_attempt_ < kResumeInterval) {
    *why = resume_error_;
    return false;
  }
  last_resume_attempt_ = now;
  // A segment write that failed for want of space would fit now into the
  // spare file's zeros, a megabyte, and fail again past it: writes resume
  // once the disk has RoomForWrites, and room for the reserve first if it
  // was used (disk_reserve.h).
  const uint64_t room = RoomForWrites();
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
  const uint64_t room = RoomForWrites() + (reserve_->present() ? 0 : reserve_->bytes());
  return Status(wire::ErrorCode::StorageError,
                fmt::format("storage unavailable: less than {} bytes free on the data directory's disk; "
                            "retrying", room));
}

uint64_t Store::RoomForWrites() const {
  // Two full commits, and the block RocksDB fallocates ahead of its WAL (1.1
  // write buffers of the log family; rocksdb_setup.cc). That block is what
  // keeps a full disk from failing a WAL append (prezeroed_wal.cc); a
  // broker killed on a full disk finds it free again at its next start,
  // and must not take it for room to write.
  return 2 * options_.max_commit_bytes + LogWriteBufferBytes(options_) * 11 / 10;
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

rocksdb::Status Store::WriteIndex(rocksdb::WriteBatch& batch, bool sync) {
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  rocksdb::Status s = db_->Write(wo, &batch);
  if (s.ok() && !sync) unsynced_.store(true, std::memory_order_release);
  return s;
}

PrezeroedWalOptions Store::PrezeroedOptions() {
  PrezeroedWalOptions options;
  options.on_sync_error = [this](const std::string& file, int err) {
    Fail(("syncing zeros ahead of the end of " + file).c_str(), std::strerror(err));
  };
  return options;
}

void Store::SyncWritten() {
  if (!unsynced_.exchange(false, std::memory_order_acq_rel)) return;
  // The batches first, then the index that locates them: a synced index
  // entry then never points at bytes a power loss can take.
  if (int err = segments_->SyncWritten()) {
    Fail("syncing the segment file", std::strerror(err));
    return;
  }
  if (rocksdb::Status s = db_->SyncWAL(); !s.ok()) Fail("syncing the index's WAL", s.ToString());
}

void Store::RetireSegments() {
  segments_->writer.AssertHeld();
  segments_dirty_ = false;
  std::unordered_map<uint64_t, uint64_t> starts;  // topic -> earliest offset
  {
    MutexLock lock(topics_mu_);
    for (const auto& [id, t] : topics_) starts[id] = t.earliest_offset;
  }
  std::vector<SegmentLog::RetiredFile> retired = segments_->Retire([&starts](uint64_t topic_id) {
    auto t = starts.find(topic_id);
    return t == starts.end() ? SegmentLog::kTopicGone : t->second;
  });
  for (const SegmentLog::RetiredFile& file : retired) {
    for (uint64_t topic_id : file.topics) stale_segment_keys_.push_back(keys::SegmentKey(file.number, topic_id));
  }
}

void Store::ReleaseBatches(const BatchRanges& removed) {
  segments_->writer.AssertHeld();
  for (const BatchLocation& l : removed) segments_->Release(l.file, l.offset, l.length);
}

}  // namespace herald::broker
