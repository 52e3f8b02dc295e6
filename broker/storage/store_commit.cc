// The storage thread's group commit: the appends and group positions drained
// from the queue in one go become one write of their batches to the segment
// log, then one RocksDB WriteBatch of their locations, summaries and the
// rest; with --fsync always, each is synced, in that order, so that no
// durable location ever points at bytes that are not.

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>

#include "broker/storage/batch_location.h"
#include "broker/storage/crc32c.h"
#include "broker/storage/segment_log.h"
#include "broker/storage/key_codec.h"
#include "broker/storage/store.h"
#include "broker/storage/store_internal.h"
#include "broker/storage/varint.h"

namespace herald::broker {

using namespace store_internal;

namespace {

constexpr std::size_t kRecentBatchesPerProducer = 1024;

std::string EncodeProducer(uint64_t last_sequence, uint64_t base_sequence, uint64_t base_offset) {
  std::string v;
  codec::PutFixed64(&v, last_sequence);
  codec::PutFixed64(&v, base_sequence);
  codec::PutFixed64(&v, base_offset);
  return v;
}

}  // namespace

// One group commit: the appends and group positions drained from the queue
// in one go, staged against the committed state, written as one segment
// write and one WriteBatch. Nothing of the staged state becomes visible
// unless both writes succeed.
//
// Thread: the storage thread (the Store's storage_thread_ role).
class Store::Commit {
 public:
  explicit Commit(Store& store)
      : store_(store), batch_(Batch(store)), batches_(Batches(store)) {
    store_.storage_thread_.AssertHeld();
    batch_.Clear();
    batches_.clear();
    // First, so that the keys this commit puts stay, should one be among
    // them.
    stale_keys_ = store_.stale_segment_keys_.size();
    for (std::size_t i = 0; i < stale_keys_; ++i) batch_.Delete(store_.meta_cf_, store_.stale_segment_keys_[i]);
  }

  void AddAppend(AppendOp& op) {
    store_.storage_thread_.AssertHeld();
    AppendRequest& req = op.request;
    AppendResult result;
    uint64_t next = 0;
    {
      MutexLock lock(store_.topics_mu_);
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
    // Where in this commit's segment write; the file and the write's offset
    // come once it is written (Finish).
    // Offsets are assigned here, so this is where the batch gets its broker
    // fields (schemas/record_batch.h), in place; a format-1 batch has none.
    if (auto header = wire::batch::ReadHeader(req.batch); header && header->format == wire::batch::kFormat) {
      wire::batch::SetBrokerFields(req.batch.data(), next,
                                   header->timestamp_ms != 0 ? header->timestamp_ms : BrokerTimestampMs());
    }
    BatchLocation location;
    location.offset = batches_.size();
    location.length = static_cast<uint32_t>(req.batch.size());
    location.crc = crc32c::Value(req.batch);
    location.count = req.count;
    location.timestamp_ms = RecordBatch::PeekTimestamp(req.batch);
    batches_.append(req.batch);
    std::string key = keys::LogKey(req.topic_id, next);
    batch_.Put(store_.index_cf_, key,
               EncodeSummary(req.count, location.length, location.timestamp_ms));
    located_.push_back({std::move(key), location});
    segment_ends_[req.topic_id] = next + req.count;
    next_offsets_[req.topic_id] = next + req.count;
    added_bytes_[req.topic_id] += req.batch.size();
    sync_ |= store_.options_.fsync == FsyncPolicy::kAlways;
    result.base_offset = next;
    written_.push_back({std::move(op.done), std::move(result), std::move(req.batch)});
  }

  void AddPutGroup(PutGroupOp& op) {
    store_.storage_thread_.AssertHeld();
    batch_.Put(store_.groups_cf_, keys::GroupKey(op.topic_id, op.group), op.position);
    sync_ |= op.sync;
    if (op.done) group_dones_.push_back(std::move(op.done));
  }

  void AddDeleteGroup(DeleteGroupOp& op) {
    store_.storage_thread_.AssertHeld();
    batch_.Delete(store_.groups_cf_, keys::GroupKey(op.topic_id, op.group));
    sync_ = true;
    if (op.done) group_dones_.push_back(std::move(op.done));
  }

  bool empty() const {
    store_.storage_thread_.AssertHeld();
    return written_.empty() && immediate_.empty() && group_dones_.empty() && batch_.Count() == 0;
  }

  // Writes the batches and the index, publishes the staged state, then runs
  // every callback.
  void Finish() {
    store_.storage_thread_.AssertHeld();
    store_.segments_->writer.AssertHeld();
    Status status;
    if (batch_.Count() > 0 && !store_.EnsureWritable(&status)) {
      // The database refuses writes since a failure (disk full, I/O error):
      // fail fast without touching it, until a resume succeeds.
    } else if (batch_.Count() > 0) {
      status = Write();
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
  static rocksdb::WriteBatch& Batch(Store& store) {
    store.storage_thread_.AssertHeld();
    return *store.commit_batch_;
  }
  static std::string& Batches(Store& store) {
    store.storage_thread_.AssertHeld();
    return store.commit_batches_;
  }

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

  // The batches to the segment log, then the index with their locations.
  Status Write() REQUIRES(store_.storage_thread_, store_.segments_->writer) {
    const auto started = std::chrono::steady_clock::now();
    rocksdb::Status s;
    if (!batches_.empty()) {
      s = store_.segments_->Append(batches_, &position_);
      if (s.ok() && store_.options_.fsync == FsyncPolicy::kAlways) s = store_.segments_->Sync();
      if (s.ok()) StageLocations();
    }
    StageTopicBytes();
    if (s.ok()) s = store_.WriteIndex(batch_, sync_);
    if (sync_ && store_.options_.on_sync) store_.options_.on_sync(std::chrono::steady_clock::now() - started);
    store_.write_failing_.store(!s.ok(), std::memory_order_relaxed);
    if (s.ok()) return Status::Ok();
    spdlog::get("storage")->error("group commit of {} records failed: {}", batch_.Count(), s.ToString());
    // A full disk passes (EnsureWritable resumes once there is room); any
    // other I/O error means the commit's bytes may be lost whatever a later
    // sync says, so the store stops here (Store::failed).
    if (!s.IsNoSpace()) {
      store_.Fail("a group commit's write or sync", s.ToString());
      return store_.FailedError();
    }
    return StorageError(s, "write");
  }

  // Each batch's log key holds its location (batch_location.h), and which
  // topics' batches the file holds rides in the same write (the "seg/"
  // keys), so that a restart knows which files to keep.
  void StageLocations() REQUIRES(store_.storage_thread_) {
    for (auto& [key, location] : located_) {
      location.file = position_.file;
      location.offset += position_.offset;
      batch_.Put(store_.log_cf_, key, location.Encode());
    }
    for (const auto& [topic_id, end] : segment_ends_) {
      batch_.Put(store_.meta_cf_, keys::SegmentKey(position_.file, topic_id), keys::TopicPrefix(end));
    }
  }

  // Each topic's byte count rides in the same write as its batches, so that
  // a restart reads one key instead of summing the whole index.
  void StageTopicBytes() {
    MutexLock lock(store_.topics_mu_);
    for (const auto& [topic_id, added] : added_bytes_) {
      auto it = store_.topics_.find(topic_id);
      if (it == store_.topics_.end()) continue;
      batch_.Put(store_.meta_cf_, keys::TopicBytesKey(topic_id), keys::TopicPrefix(it->second.bytes + added));
    }
  }

  uint64_t FindRecent(const ProducerKey& key, const StagedProducer& sp, uint64_t base_sequence)
      REQUIRES(store_.storage_thread_) {
    for (const auto& [seq, offset] : sp.added)
      if (seq == base_sequence) return offset;
    for (const auto& [seq, offset] : store_.LoadProducer(key).recent)
      if (seq == base_sequence) return offset;
    return kUnknownOffset;
  }

  void Publish() REQUIRES(store_.storage_thread_, store_.segments_->writer) {
    {
      MutexLock lock(store_.topics_mu_);
      for (const auto& [topic_id, next] : next_offsets_) {
        auto it = store_.topics_.find(topic_id);
        if (it != store_.topics_.end()) it->second.next_offset = next;
      }
      for (const auto& [topic_id, bytes] : added_bytes_) {
        auto it = store_.topics_.find(topic_id);
        if (it != store_.topics_.end()) it->second.bytes += bytes;
      }
    }
    for (const auto& [topic_id, end] : segment_ends_) store_.segments_->NoteTopic(position_.file, topic_id, end);
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
  // The store's, reused (Store::commit_batches_): the batches of this
  // commit, one after another, as the segment log gets them.
  std::string& batches_;
  // Log keys and locations of the batches; file and offset in the file are
  // filled in once the batches are written.
  std::vector<std::pair<std::string, BatchLocation>> located_;
  SegmentPosition position_;
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
  // the buffers it grew for the next thousand small ones.
  if (commit_batch_->Data().capacity() > CommitBatchReserve()) commit_batch_ = NewCommitBatch();
  if (commit_batches_.capacity() > options_.max_commit_bytes) {
    std::string().swap(commit_batches_);
    commit_batches_.reserve(options_.max_commit_bytes);
  }
}

std::size_t Store::CommitBatchReserve() const {
  return options_.max_commit_bytes / 4;  // keys, locations and summaries: ~130 bytes a batch
}

std::unique_ptr<rocksdb::WriteBatch> Store::NewCommitBatch() const {
  return std::make_unique<rocksdb::WriteBatch>(CommitBatchReserve());
}

}  // namespace herald::broker
