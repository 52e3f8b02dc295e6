// The store's group commit: the appends and group positions drained
// from the queue in one go become one write of their batches to the segment
// log, then one RocksDB WriteBatch of their locations, summaries and the
// rest; with --fsync always both are synced, side by side, before any of
// the commit's callbacks runs (an index entry durable before its bytes is
// what recovery's check of the newest segment file handles: side_sync.h),
// on the sync pipeline's thread while the storage thread writes the next
// commit (sync_pipeline.h).

#include <cerrno>
#include <cstring>

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>

#include "broker/storage/batch_location.h"
#include "broker/storage/crc32c.h"
#include "broker/storage/segment_log.h"
#include "broker/storage/side_sync.h"
#include "broker/storage/sync_pipeline.h"
#include "broker/storage/key_codec.h"
#include "broker/storage/store.h"
#include "broker/storage/store_internal.h"
#include "broker/storage/varint.h"

namespace herald::broker {

using namespace store_internal;

namespace {

constexpr std::size_t kRecentBatchesPerProducer = 1024;

codec::SmallBytes<24> EncodeProducer(uint64_t last_sequence, uint64_t base_sequence, uint64_t base_offset) {
  codec::SmallBytes<24> v;
  codec::PutFixed64(&v, last_sequence);
  codec::PutFixed64(&v, base_sequence);
  codec::PutFixed64(&v, base_offset);
  return v;
}

}  // namespace

// What a commit owes its callers once it is durable: every callback, in the
// order of the ops. Handed to the sync pipeline with --fsync always, and
// back to the store's spares once run (no allocation per commit).
struct Store::CommitCompletions {
  struct Written {
    AppendDone done;
    AppendResult result;
    std::string bytes;
  };
  struct Immediate {
    AppendDone done;
    AppendResult result;
  };
  std::vector<Written> written;
  std::vector<Immediate> immediate;
  std::vector<Done> group_dones;
  Status status;  // the commit's write

  bool empty() const { return written.empty() && immediate.empty() && group_dones.empty(); }

  // Runs every callback: with the write's status if it failed, else with
  // `sync` (that of the sync that covered the write, or Ok if none was due).
  void Run(const Status& sync) {
    const Status& outcome = status.ok() ? sync : status;
    for (auto& w : written) {
      if (outcome.ok()) {
        w.result.batch = RecordBatch::Parse(w.result.base_offset, std::move(w.bytes));
      } else {
        w.result = AppendResult();
        w.result.status = outcome;
      }
      w.done(std::move(w.result));
    }
    for (auto& i : immediate) i.done(std::move(i.result));
    for (auto& d : group_dones) d(outcome);
    // Now, not at the next reuse: what the callbacks capture (sessions) goes.
    written.clear();
    immediate.clear();
    group_dones.clear();
    status = Status::Ok();
  }
};

void Store::CommitCompletionsDeleter::operator()(CommitCompletions* c) const { delete c; }

Store::CompletionsPtr Store::SpareCompletions() {
  {
    MutexLock lock(spare_completions_mu_);
    if (!spare_completions_.empty()) {
      CompletionsPtr c = std::move(spare_completions_.back());
      spare_completions_.pop_back();
      return c;
    }
  }
  return CompletionsPtr(new CommitCompletions());
}

void Store::KeepCompletions(CompletionsPtr completions) {
  MutexLock lock(spare_completions_mu_);
  spare_completions_.push_back(std::move(completions));
}

// One group commit: the appends and group positions drained from the queue
// in one go, staged against the committed state, written as one segment
// write and one WriteBatch. Nothing of the staged state becomes visible
// unless both writes succeed.
//
// The store keeps one and reuses it (Begin clears it): its containers keep
// their capacity from commit to commit, and keys and values are built in
// place (codec::SmallBytes), so that a commit of batches whose like came
// before allocates nothing of its own.
//
// Thread: the store's writer (writer_role_): the storage thread, or an inline
// commit's thread (Store::CommitQueuedAppends).
class Store::Commit {
 public:
  explicit Commit(Store& store) : store_(store), batch_(Batch(store)), batches_(Batches(store)) {}

  void Begin() {
    store_.writer_role_.AssertHeld();
    batch_.Clear();
    batches_.clear();
    located_.clear();
    topics_.clear();
    producers_.clear();
    producer_batches_.clear();
    if (!out_) out_ = store_.SpareCompletions();
    position_ = {};
    sync_ = false;
    // First, so that the keys this commit puts stay, should one be among
    // them.
    stale_keys_ = store_.stale_segment_keys_.size();
    for (std::size_t i = 0; i < stale_keys_; ++i) batch_.Delete(store_.meta_cf_, store_.stale_segment_keys_[i]);
  }

  void AddAppend(AppendOp& op) {
    store_.writer_role_.AssertHeld();
    AppendRequest& req = op.request;
    AppendResult result;
    uint64_t next = 0;
    {
      MutexLock lock(store_.topics_mu_);
      auto it = store_.topics_.find(req.topic_id);
      if (it == store_.topics_.end()) {
        result.status = Status(wire::ErrorCode::TopicNotFound, "topic was deleted");
        out_->immediate.push_back({std::move(op.done), std::move(result)});
        return;
      }
      StagedTopic* staged = FindTopic(req.topic_id);
      next = staged != nullptr ? staged->next_offset : it->second.next_offset;
    }
    if (req.producer_id != 0) {
      ProducerKey key{req.topic_id, req.producer_id};
      StagedProducer& sp = Producer(key);
      if (req.base_sequence <= sp.last_sequence) {
        result.duplicate = true;
        result.base_offset = FindRecent(key, req.base_sequence);
        out_->immediate.push_back({std::move(op.done), std::move(result)});
        return;
      }
      sp.last_sequence = req.base_sequence + req.count - 1;
      producer_batches_.push_back({key, req.base_sequence, next});
      batch_.Put(store_.producers_cf_, keys::LogKeyOf(req.topic_id, req.producer_id).view(),
                 EncodeProducer(sp.last_sequence, req.base_sequence, next).view());
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
    batch_.Put(store_.index_cf_, keys::LogKeyOf(req.topic_id, next).view(),
               EncodeSummary(req.count, location.length, location.timestamp_ms).view());
    located_.push_back({req.topic_id, next, location});
    StagedTopic& topic = Topic(req.topic_id);
    topic.next_offset = next + req.count;
    topic.added_bytes += req.batch.size();
    sync_ |= store_.options_.fsync == FsyncPolicy::kAlways;
    result.base_offset = next;
    out_->written.push_back({std::move(op.done), std::move(result), std::move(req.batch)});
  }

  void AddPutGroup(PutGroupOp& op) {
    store_.writer_role_.AssertHeld();
    batch_.Put(store_.groups_cf_, keys::GroupKey(op.topic_id, op.group), op.position);
    sync_ |= op.sync;
    if (op.done) out_->group_dones.push_back(std::move(op.done));
  }

  void AddDeleteGroup(DeleteGroupOp& op) {
    store_.writer_role_.AssertHeld();
    batch_.Delete(store_.groups_cf_, keys::GroupKey(op.topic_id, op.group));
    sync_ = true;
    if (op.done) out_->group_dones.push_back(std::move(op.done));
  }

  bool empty() const {
    store_.writer_role_.AssertHeld();
    return out_->empty() && batch_.Count() == 0;
  }

  // Writes the batches and the index and publishes the staged state; then
  // runs every callback, or, with --fsync always, hands them to the sync
  // pipeline, which runs them once a sync covers the writes.
  void Finish() {
    store_.writer_role_.AssertHeld();
    store_.segments_->writer.AssertHeld();
    Status status;
    if (batch_.Count() > 0 && !store_.EnsureWritable(&status)) {
      // The database refuses writes since a failure (disk full, I/O error):
      // fail fast without touching it, until a resume succeeds.
    } else if (batch_.Count() > 0) {
      status = Write();
    }
    if (status.ok()) Publish();
    out_->status = status;
    if (store_.commit_sync_) {
      // Failed writes too, so that callbacks keep the order of their ops.
      CommitCompletions* completions = out_.release();
      Store* store = &store_;
      store_.commit_sync_->Submit([store, completions](const Status& sync) {
        completions->Run(sync);
        store->KeepCompletions(CompletionsPtr(completions));
      });
      return;
    }
    out_->Run(Status::Ok());
  }

 private:
  static rocksdb::WriteBatch& Batch(Store& store) {
    store.writer_role_.AssertHeld();
    return *store.commit_batch_;
  }
  static std::string& Batches(Store& store) {
    store.writer_role_.AssertHeld();
    return store.commit_batches_;
  }

  // A topic this commit appends to: its next offset after the commit (also
  // its end in the segment file written) and the batch bytes it adds.
  struct StagedTopic {
    uint64_t topic_id = 0;
    uint64_t next_offset = 0;
    uint64_t added_bytes = 0;
  };
  struct StagedProducer {
    ProducerKey key;
    uint64_t last_sequence = 0;
  };
  struct ProducerBatch {
    ProducerKey key;
    uint64_t base_sequence = 0;
    uint64_t base_offset = 0;
  };
  struct Located {
    uint64_t topic_id = 0;
    uint64_t base_offset = 0;
    BatchLocation location;  // file and offset in the file filled in once written
  };
  // The batches to the segment log, then the index with their locations.
  // With --fsync always their syncs are the sync pipeline's (Finish), which
  // runs the segment file's beside the index's (SideSync: why that is safe).
  // Otherwise a commit that must be synced (a synced group position with
  // --fsync interval) syncs the index here.
  Status Write() REQUIRES(store_.writer_role_, store_.segments_->writer) {
    const auto started = std::chrono::steady_clock::now();
    rocksdb::Status s;
    if (!batches_.empty()) {
      s = store_.segments_->Append(batches_, &position_);
      if (s.ok()) StageLocations();
    }
    StageTopicBytes();
    const bool sync_here = sync_ && !store_.commit_sync_;
    if (s.ok()) s = store_.WriteIndex(batch_, sync_here);
    if (sync_here && store_.options_.on_sync) store_.options_.on_sync(std::chrono::steady_clock::now() - started);
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
  void StageLocations() REQUIRES(store_.writer_role_) {
    for (Located& l : located_) {
      l.location.file = position_.file;
      l.location.offset += position_.offset;
      batch_.Put(store_.log_cf_, keys::LogKeyOf(l.topic_id, l.base_offset).view(), l.location.Encode().view());
    }
    for (const StagedTopic& t : topics_) {
      batch_.Put(store_.meta_cf_, keys::SegmentKeyOf(position_.file, t.topic_id).view(),
                 keys::TopicPrefix(t.next_offset));
    }
  }

  // Each topic's byte count rides in the same write as its batches, so that
  // a restart reads one key instead of summing the whole index.
  void StageTopicBytes() {
    MutexLock lock(store_.topics_mu_);
    for (const StagedTopic& t : topics_) {
      auto it = store_.topics_.find(t.topic_id);
      if (it == store_.topics_.end()) continue;
      batch_.Put(store_.meta_cf_, keys::TopicBytesKey(t.topic_id), keys::TopicPrefix(it->second.bytes + t.added_bytes));
    }
  }

  // A linear search: a commit holds at most max_commit_bytes of batches, and
  // its topics are few unless its batches are tiny and each for another
  // topic; a hash map would allocate a node per topic and commit.
  StagedTopic* FindTopic(uint64_t topic_id) {
    for (StagedTopic& t : topics_)
      if (t.topic_id == topic_id) return &t;
    return nullptr;
  }
  StagedTopic& Topic(uint64_t topic_id) {
    if (StagedTopic* t = FindTopic(topic_id)) return *t;
    return topics_.emplace_back(StagedTopic{topic_id, 0, 0});
  }
  StagedProducer& Producer(const ProducerKey& key) REQUIRES(store_.writer_role_) {
    for (StagedProducer& p : producers_)
      if (p.key == key) return p;
    return producers_.emplace_back(StagedProducer{key, store_.LoadProducer(key).last_sequence});
  }

  uint64_t FindRecent(const ProducerKey& key, uint64_t base_sequence) REQUIRES(store_.writer_role_) {
    for (const ProducerBatch& b : producer_batches_)
      if (b.key == key && b.base_sequence == base_sequence) return b.base_offset;
    for (const auto& [seq, offset] : store_.LoadProducer(key).recent)
      if (seq == base_sequence) return offset;
    return kUnknownOffset;
  }

  void Publish() REQUIRES(store_.writer_role_, store_.segments_->writer) {
    {
      MutexLock lock(store_.topics_mu_);
      for (const StagedTopic& t : topics_) {
        auto it = store_.topics_.find(t.topic_id);
        if (it == store_.topics_.end()) continue;
        it->second.next_offset = t.next_offset;
        it->second.bytes += t.added_bytes;
      }
    }
    for (const StagedTopic& t : topics_) store_.segments_->NoteTopic(position_.file, t.topic_id, t.next_offset);
    auto& stale = store_.stale_segment_keys_;
    stale.erase(stale.begin(), stale.begin() + static_cast<std::ptrdiff_t>(stale_keys_));
    for (const StagedProducer& sp : producers_) store_.LoadProducer(sp.key).last_sequence = sp.last_sequence;
    for (const ProducerBatch& b : producer_batches_) {
      auto& recent = store_.LoadProducer(b.key).recent;
      recent.emplace_back(b.base_sequence, b.base_offset);
      if (recent.size() > kRecentBatchesPerProducer) recent.pop_front();
    }
  }

  Store& store_;
  rocksdb::WriteBatch& batch_;  // the store's, reused: see Store::commit_batch_
  // The store's, reused (Store::commit_batches_): the batches of this
  // commit, one after another, as the segment log gets them.
  std::string& batches_;
  std::vector<Located> located_;  // the batches, in the order of batches_
  SegmentPosition position_;
  std::size_t stale_keys_ = 0;  // of store_.stale_segment_keys_, deleted by this commit
  bool sync_ = false;
  std::vector<StagedTopic> topics_;
  std::vector<StagedProducer> producers_;
  std::vector<ProducerBatch> producer_batches_;  // in commit order
  // This commit's callbacks; handed to the sync pipeline (and a spare taken
  // at the next Begin) with --fsync always.
  CompletionsPtr out_;
};

void Store::CommitDeleter::operator()(Commit* commit) const { delete commit; }

void Store::ProcessAll(std::vector<Op>& ops) {
  if (!commit_) commit_.reset(new Commit(*this));
  Commit& commit = *commit_;
  // Appends and group positions form one group commit; a topic create or
  // delete first closes the commit in progress so that the order holds.
  commit.Begin();
  for (Op& op : ops) {
    if (auto* a = std::get_if<AppendOp>(&op)) {
      commit.AddAppend(*a);
    } else if (auto* g = std::get_if<PutGroupOp>(&op)) {
      commit.AddPutGroup(*g);
    } else if (auto* dg = std::get_if<DeleteGroupOp>(&op)) {
      commit.AddDeleteGroup(*dg);
    } else {
      if (!commit.empty()) {
        commit.Finish();
        commit.Begin();
      }
      // Topic changes wait for the commits being synced, so that every
      // operation still completes in submission order.
      if (commit_sync_) commit_sync_->WaitIdle();
      if (auto* c = std::get_if<CreateTopicOp>(&op)) ApplyCreateTopic(*c);
      if (auto* d = std::get_if<DeleteTopicOp>(&op)) ApplyDeleteTopic(*d);
      if (auto* t = std::get_if<TruncateOp>(&op)) ApplyTruncate(*t);
    }
  }
  if (!commit.empty()) commit.Finish();
  // A single batch above max_commit_bytes makes its own commit: do not keep
  // the buffers it grew for the next thousand small ones.
  if (commit_batch_->Data().capacity() > CommitBatchReserve()) {
    commit_.reset();  // it refers to the batch
    commit_batch_ = NewCommitBatch();
  }
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
