// The store's group commit: the appends and group positions drained
// from the queue in one go become one write of their batches to the segment
// log, then one RocksDB WriteBatch of their locations, summaries and the
// rest; with --fsync always both are synced, side by side, before any of
// the commit's callbacks runs (an index entry durable before its bytes is
// what recovery's check of the newest segment file handles: side_sync.h).

#include <cerrno>
#include <cstring>

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>

#include "broker/storage/batch_location.h"
#include "broker/storage/crc32c.h"
#include "broker/storage/segment_log.h"
#include "broker/storage/side_sync.h"
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
    written_.clear();
    immediate_.clear();
    group_dones_.clear();
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
        immediate_.push_back({std::move(op.done), std::move(result)});
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
        immediate_.push_back({std::move(op.done), std::move(result)});
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
    written_.push_back({std::move(op.done), std::move(result), std::move(req.batch)});
  }

  void AddPutGroup(PutGroupOp& op) {
    store_.writer_role_.AssertHeld();
    batch_.Put(store_.groups_cf_, keys::GroupKey(op.topic_id, op.group), op.position);
    sync_ |= op.sync;
    if (op.done) group_dones_.push_back(std::move(op.done));
  }

  void AddDeleteGroup(DeleteGroupOp& op) {
    store_.writer_role_.AssertHeld();
    batch_.Delete(store_.groups_cf_, keys::GroupKey(op.topic_id, op.group));
    sync_ = true;
    if (op.done) group_dones_.push_back(std::move(op.done));
  }

  bool empty() const {
    store_.writer_role_.AssertHeld();
    return written_.empty() && immediate_.empty() && group_dones_.empty() && batch_.Count() == 0;
  }

  // Writes the batches and the index, publishes the staged state, then runs
  // every callback.
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
    // Not at the next Begin: what the callbacks capture (sessions) goes now.
    written_.clear();
    immediate_.clear();
    group_dones_.clear();
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
  // With --fsync always the segment file's sync runs beside the index's
  // write and sync (SideSync: why that is safe), and the commit completes
  // once both are done.
  Status Write() REQUIRES(store_.writer_role_, store_.segments_->writer) {
    const auto started = std::chrono::steady_clock::now();
    rocksdb::Status s;
    bool syncing_segment = false;
    if (!batches_.empty()) {
      s = store_.segments_->Append(batches_, &position_);
      if (s.ok() && store_.segment_sync_) {
        store_.segment_sync_->Start();
        syncing_segment = true;
      }
      if (s.ok()) StageLocations();
    }
    StageTopicBytes();
    if (s.ok()) s = store_.WriteIndex(batch_, sync_);
    if (syncing_segment) {
      const int err = store_.segment_sync_->Wait();
      if (err != 0 && s.ok()) {
        s = err == ENOSPC ? rocksdb::Status::NoSpace("fdatasync of the segment file", std::strerror(err))
                          : rocksdb::Status::IOError("fdatasync of the segment file", std::strerror(err));
      }
    }
    if (sync_ && store_.options_.on_sync) store_.options_.on_sync(std::chrono::steady_clock::now() - started);
    store_.write_failing_.store(!s.ok(), std::memory_order_relaxed);
    // A failed sync of zeros ahead of a file's end (Store::PrezeroedOptions)
    // may have been the one to see what this commit's syncs would have
    // reported: the store failed, and nothing more is acknowledged.
    if (s.ok() && sync_ && store_.failed()) return store_.FailedError();
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
  std::vector<Written> written_;
  std::vector<Immediate> immediate_;
  std::vector<Done> group_dones_;
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
