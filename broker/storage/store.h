#pragma once
// Store: the broker's storage, a coordinator of two parts.
//   - SegmentLog (segment_log.h): the bytes of every stored record batch, in
//     segment files written once.
//   - RocksDB, with its own WAL: the index. Per topic, where each batch is
//     (log family) and its summary (index family); topic settings, starts
//     and byte counts (meta), group positions, producer states.
// A group commit appends its batches to the segment log as one write, then
// writes their locations and everything else as one WriteBatch; with
// --fsync always both are synced, side by side (side_sync.h), before the
// commit completes. Start-up runs one recovery procedure that lines the two
// up (store_recovery.cc).
//
// Thread: writes run on one writer at a time, in submission order: the
// storage thread, which drains its queue into one group commit, so that
// concurrent publishes from any number of connections share one write and
// one sync of each part; or, for appends that wait for no sync, the thread
// that CommitAppendsInline names. Completion callbacks run on the writer;
// callers post them onward. Reads (ReadBatches, ListBatches, ...) are safe
// from any thread.
//
// Offsets are assigned here, at commit time, so that a failed write leaves no
// gap: the log of a topic is dense and never reuses an offset.

#include <chrono>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <variant>
#include <vector>

#include "broker/status.h"
#include "broker/storage/batch_location.h"
#include "broker/storage/prezeroed_wal.h"
#include "broker/storage/record_batch.h"
#include "schemas/inline_function.h"
#include "schemas/thread_annotations.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
class Env;
class Status;
class WriteBatch;
}  // namespace rocksdb

namespace herald::broker {

class DiskReserve;
class IntervalSyncer;
class SideSync;
class SegmentLog;

enum class FsyncPolicy { kAlways, kInterval, kNever };

// Limits past which a topic's oldest record batches are removed; 0 = none.
struct RetentionPolicy {
  uint64_t max_age_ms = 0;
  uint64_t max_bytes = 0;
  uint64_t max_messages = 0;
  bool operator==(const RetentionPolicy&) const = default;
};

struct StoreOptions {
  std::string data_dir;
  // kAlways: a write is fsynced before it completes. kInterval: the segment
  // file being written and RocksDB's WAL are fsynced every fsync_interval.
  // kNever: left to the OS. In every mode a completed write is in the files
  // (the page cache at least), so it survives a crash of the process.
  FsyncPolicy fsync = FsyncPolicy::kAlways;
  std::chrono::milliseconds fsync_interval{100};
  // Retention of topics stored before topics had their own.
  RetentionPolicy legacy_retention;
  // All memtables together, and the block cache shared by every table.
  std::size_t memtable_budget_bytes = 16u << 20;
  std::size_t block_cache_bytes = 8u << 20;
  // Batch bytes in one group commit (one write, one fsync).
  std::size_t max_commit_bytes = 2u << 20;
  // Kept free in the data directory so that the broker can start on a full
  // disk (disk_reserve.h); 0: none.
  uint64_t disk_reserve_bytes = 8u << 20;
  // Called on the storage thread with the duration of every synced write.
  std::function<void(std::chrono::nanoseconds)> on_sync;
  // For tests only: ReadBatches, OffsetForTime and BatchTimestampAt (the
  // reads the I/O thread needs) wait this long before they read, as if the
  // disk were slow (brokerd --debug-read-delay-ms).
  std::chrono::milliseconds debug_read_delay{0};
};

struct TopicRecord {
  uint64_t id = 0;
  std::string name;
  uint64_t earliest_offset = 0;
  uint64_t next_offset = 0;
  uint64_t bytes = 0;  // stored batch bytes in [earliest_offset, next_offset)
  RetentionPolicy retention;
};

// What the index CF keeps of each stored batch.
struct BatchSummary {
  uint64_t base_offset = 0;
  uint32_t count = 0;
  uint32_t bytes = 0;
  int64_t timestamp_ms = 0;
  uint64_t end_offset() const { return base_offset + count; }
};

struct GroupRecord {
  uint64_t topic_id = 0;
  std::string name;
  std::string position;  // GroupPosition::Encode()
};

struct AppendRequest {
  uint64_t topic_id = 0;
  uint64_t producer_id = 0;  // 0: no deduplication
  uint64_t base_sequence = 0;
  uint32_t count = 0;
  std::string batch;  // RecordBatchBuilder output
};

struct AppendResult {
  Status status;
  uint64_t base_offset = 0;  // ~0 for a duplicate whose offsets are forgotten
  bool duplicate = false;
  std::shared_ptr<const RecordBatch> batch;  // the stored batch; null if nothing was written
};

class Store {
 public:
  static constexpr uint64_t kUnknownOffset = ~uint64_t{0};

  static Status Open(const StoreOptions& options, std::unique_ptr<Store>* out);
  ~Store();  // completes every queued operation, then closes the database

  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // The topics as of now (their offsets move on with appends).
  std::vector<TopicRecord> Topics();
  std::optional<TopicRecord> FindTopic(uint64_t topic_id);
  Status LoadGroups(std::vector<GroupRecord>* groups);

  // Held inline (no allocation per append): a callback capturing more than
  // 96 bytes does not compile.
  using AppendDone = InlineFunction<void(AppendResult), 96>;
  using TopicDone = std::function<void(Status, TopicRecord, bool created)>;
  using Done = std::function<void(Status)>;

  // done(result) runs on the storage thread once the batch is stored (or not);
  // a batch the stored format cannot hold (above RecordBatch::kMaxBytes, or
  // whose count disagrees with its header) is refused at once, on the
  // caller's thread, and nothing of it is queued.
  void Append(AppendRequest request, AppendDone done);
  // An existing topic keeps its retention (create is idempotent).
  void CreateTopic(std::string name, RetentionPolicy retention, TopicDone done);
  void AlterTopic(std::string name, RetentionPolicy retention, TopicDone done);
  void DeleteTopic(std::string name, Done done);
  // Removes the batches of the topic that end at or below `before` (kUnknownOffset:
  // every batch stored when the operation runs); the earliest offset moves up
  // to the first batch kept, and stays there across restarts.
  void Truncate(uint64_t topic_id, uint64_t before, TopicDone done);
  void DeleteGroup(uint64_t topic_id, std::string group, Done done);
  // Stores a group position. sync=false: rides along with the next write; a
  // crash may lose it (the group then redelivers, it never skips).
  void PutGroup(uint64_t topic_id, std::string group, std::string position, bool sync, Done done);

  // With --fsync interval or never, no append waits for a sync, and its
  // commit is a write to the page cache: cheaper than the two thread
  // wake-ups of a round trip through the storage thread. From this call on,
  // an append that finds the queue empty does not wake the storage thread
  // but calls `schedule` (on the appending thread), which must make
  // CommitQueuedAppends run soon on the thread that takes the completions
  // (the broker posts it to its I/O thread, so that the appends of one turn
  // of its event loop share one commit). Call it before the first append;
  // not with --fsync always, whose commits wait for a sync.
  void CommitAppendsInline(std::function<void()> schedule);
  // Commits the appends at the front of the queue, up to
  // kMaxInlineCommitBytes, on the calling thread, and leaves the rest (and
  // everything but appends, and everything while writes are failing) to the
  // storage thread. Never blocks on the storage thread: if it is
  // committing, it takes the queue when done.
  void CommitQueuedAppends() EXCLUDES(mu_, writer_mu_);
  // A burst larger than this goes to the storage thread, whose write then
  // overlaps with the I/O thread's network work.
  static constexpr std::size_t kMaxInlineCommitBytes = 256u << 10;

  // Reads the batches of `topic_id` that hold offsets >= from_offset, in order,
  // until they hold max_messages messages from from_offset on, or about
  // max_bytes are read. Any thread; may read the disk (so not the I/O thread).
  Status ReadBatches(uint64_t topic_id, uint64_t from_offset, std::size_t max_messages,
                     std::size_t max_bytes,
                     std::vector<std::shared_ptr<const RecordBatch>>* out) const;

  // Summaries of the stored batches of a topic from the one holding
  // from_offset on, at most max_batches (any thread; reads the small index).
  Status ListBatches(uint64_t topic_id, uint64_t from_offset, std::size_t max_batches,
                     std::vector<BatchSummary>* out) const;
  // The first offset appended at or after timestamp_ms; the topic's next
  // offset if there is none. A binary search of the index by offset, which
  // assumes the batches' broker times do not decrease along the log; where
  // they do (the clock stepped back), the answer is the start of a batch at
  // or after timestamp_ms whose predecessor is before it, not necessarily the
  // first such one. Any thread; may read the disk.
  uint64_t OffsetForTime(uint64_t topic_id, int64_t timestamp_ms);
  // Broker time of the stored batch that holds `offset` (every message of a
  // batch has its batch's); nullopt if none does. Any thread; may read the disk.
  std::optional<int64_t> BatchTimestampAt(uint64_t topic_id, uint64_t offset) const;
  // Compacts the index entries of removed batches away (slow; any thread but
  // the storage thread, so that publishes do not wait for it). The segment
  // log gives their bytes back on the storage thread.
  Status CompactTopicRange(uint64_t topic_id, uint64_t before);
  // SST files plus segment files, in bytes.
  uint64_t StorageBytes() const;
  // Memory of every column family's memtables: the one being written and
  // those waiting for (or in) a flush. Any thread.
  uint64_t MemtableBytes() const;
  // False after a write failed, until one succeeds again, and for good once
  // the store failed (for /healthz).
  bool healthy() const { return !write_failing_.load(std::memory_order_relaxed) && !failed(); }
  // True once a write or sync of the segment log or of the index failed with
  // an I/O error other than a full disk. The kernel may have dropped the
  // pages that call was to make durable while its cache still shows them,
  // and a later sync that succeeds says nothing about them (PostgreSQL's
  // "fsyncgate"). So nothing more is written, and every publish is refused,
  // until a restart replays what is really on the disk. A full disk is not a
  // failure: writes resume once there is room (EnsureWritable). Any thread.
  bool failed() const { return failed_.load(std::memory_order_acquire); }

 private:
  struct AppendOp { AppendRequest request; AppendDone done; };
  struct CreateTopicOp { std::string name; RetentionPolicy retention; TopicDone done; bool alter; };
  struct DeleteTopicOp { std::string name; Done done; };
  struct PutGroupOp { uint64_t topic_id; std::string group; std::string position; bool sync; Done done; };
  struct DeleteGroupOp { uint64_t topic_id; std::string group; Done done; };
  struct TruncateOp { uint64_t topic_id; uint64_t before; TopicDone done; };
  using Op = std::variant<AppendOp, CreateTopicOp, DeleteTopicOp, PutGroupOp, DeleteGroupOp,
                          TruncateOp>;

  using TopicState = TopicRecord;
  // The last batches of one producer on one topic, to answer retries.
  struct ProducerState {
    uint64_t last_sequence = 0;
    std::deque<std::pair<uint64_t, uint64_t>> recent;  // (base_sequence, base_offset)
  };
  struct ProducerKey {
    uint64_t topic_id;
    uint64_t producer_id;
    bool operator==(const ProducerKey&) const = default;
  };
  struct ProducerKeyHash {
    std::size_t operator()(const ProducerKey& k) const {
      return std::hash<uint64_t>()(k.topic_id * 0x9E3779B97F4A7C15ull ^ k.producer_id);
    }
  };
  class Commit;  // one group commit in progress (store_commit.cc)
  // Byte ranges of stored batches, to give back to the segment log once
  // their index entries are deleted.
  using BatchRanges = std::vector<BatchLocation>;

  Store() = default;

  // Start (store_recovery.cc): the one recovery procedure; Recover runs
  // the others in this order.
  Status Recover() REQUIRES(writer_role_);
  Status ReplayLegacyJournal();
  Status LoadSegmentTopics(std::vector<uint64_t>* in_newest_file) REQUIRES(writer_role_);
  Status CutUnreadableTail(const std::vector<uint64_t>& topics) REQUIRES(writer_role_);
  Status LoadTopics() REQUIRES(writer_role_);
  Status LoadTopicLog(TopicState* t);
  Status RebuildIndex(uint64_t topic_id);

  // The storage thread (store.cc, store_commit.cc, store_log_index.cc).
  void Enqueue(Op op) EXCLUDES(mu_);
  void Run() EXCLUDES(mu_, writer_mu_);
  // Moves the ops at the front of the queue into `ops` (empty), for one commit.
  void TakeOps(std::vector<Op>& ops, std::size_t max_bytes, bool appends_only) REQUIRES(mu_);
  void ProcessAll(std::vector<Op>& ops) REQUIRES(writer_role_);
  void ApplyCreateTopic(CreateTopicOp& op) REQUIRES(writer_role_);
  void ApplyDeleteTopic(DeleteTopicOp& op) REQUIRES(writer_role_);
  void ApplyTruncate(TruncateOp& op) REQUIRES(writer_role_);
  ProducerState& LoadProducer(const ProducerKey& key) REQUIRES(writer_role_);
  // True if writes may be tried; after a failed write it tries db->Resume()
  // at most every kResumeInterval, else sets *why.
  bool EnsureWritable(Status* why) REQUIRES(writer_role_);
  // Why writes wait: the room they need is not free on the disk.
  Status NoSpaceError() const;
  // Free bytes the disk must have before writes are tried again.
  uint64_t RoomForWrites() const;
  static constexpr std::chrono::milliseconds kResumeInterval{200};
  // Writes the index (RocksDB, with its WAL; synced if asked).
  rocksdb::Status WriteIndex(rocksdb::WriteBatch& batch, bool sync);
  // Gives the files and byte ranges of removed batches back (segment_log.h).
  void RetireSegments() REQUIRES(writer_role_);
  // The locations of the batches of `topic_id` below offset `before`, read
  // before their removal is written and released after.
  Status LocationsOfBatches(uint64_t topic_id, uint64_t before, BatchRanges* out) const;
  void ReleaseBatches(const BatchRanges& removed) REQUIRES(writer_role_);
  // --fsync interval (IntervalSyncer's thread): if written since the last
  // time, syncs the segment file being written, then RocksDB's WAL.
  void SyncWritten();
  // For the prezeroed files (the segment log's, the WAL's with --fsync
  // always): a failed sync of their zeros fails the store.
  PrezeroedWalOptions PrezeroedOptions();
  // Marks the store failed (failed()) after `what` failed with `s`, and says
  // so once in the log. Any thread.
  void Fail(const char* what, const std::string& error);
  Status FailedError() const;
  // A read of a located batch failed: true if the batch is gone meanwhile
  // (retention, purge, topic deletion) rather than damaged.
  bool BatchRemoved(uint64_t topic_id, uint64_t end_offset) const;
  // Waits StoreOptions::debug_read_delay (tests only) before a read.
  void SlowDiskForTests() const;
  // A RocksDB integer property summed over every column family.
  uint64_t SumOverFamilies(const std::string& property) const;
  std::size_t CommitBatchReserve() const;
  std::unique_ptr<rocksdb::WriteBatch> NewCommitBatch() const;

  StoreOptions options_;
  // Its WAL holds the index's writes: put on the prezeroed file system with
  // --fsync always (null otherwise, RocksDB's default).
  std::unique_ptr<rocksdb::Env> wal_env_;
  std::unique_ptr<rocksdb::DB> db_;
  std::unique_ptr<SegmentLog> segments_;  // the bytes of every batch
  std::unique_ptr<DiskReserve> reserve_;  // Open, then the storage thread
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  rocksdb::ColumnFamilyHandle* meta_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* log_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* groups_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* producers_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* index_cf_ = nullptr;

  // The writer: what only the thread committing touches. That is the
  // storage thread, or, with --fsync interval or never, a thread in
  // CommitQueuedAppends (commit_inline_); either holds writer_mu_ while it
  // plays the role, and Open holds it before either starts.
  ThreadRole writer_role_;
  Mutex writer_mu_;
  // Set once, before the first append (CommitAppendsInline).
  std::function<void()> commit_inline_;
  std::vector<Op> inline_ops_ GUARDED_BY(writer_mu_);  // CommitQueuedAppends', kept for its capacity
  // The storage thread's WriteBatch and segment write buffer, reserved once
  // for a full commit and cleared for each: growing fresh ones per commit
  // reallocated and copied them up to ten times, and their freed megabytes
  // fragmented the heap (peak RSS).
  std::unique_ptr<rocksdb::WriteBatch> commit_batch_ GUARDED_BY(writer_role_);
  std::string commit_batches_ GUARDED_BY(writer_role_);
  // The group commit, reused (store_commit.cc, where Commit is defined).
  struct CommitDeleter {
    void operator()(Commit* commit) const;
  };
  std::unique_ptr<Commit, CommitDeleter> commit_ GUARDED_BY(writer_role_);
  // "seg/" keys of files the segment log deleted, deleted by the next commit.
  std::vector<std::string> stale_segment_keys_ GUARDED_BY(writer_role_);
  // A topic's start moved or a topic went: files may hold no live batch now.
  bool segments_dirty_ GUARDED_BY(writer_role_) = true;
  uint64_t next_topic_id_ GUARDED_BY(writer_role_) = 1;
  std::unordered_map<ProducerKey, ProducerState, ProducerKeyHash> producers_ GUARDED_BY(writer_role_);
  std::chrono::steady_clock::time_point last_resume_attempt_ GUARDED_BY(writer_role_);
  Status resume_error_ GUARDED_BY(writer_role_);
  std::atomic<bool> write_failing_{false};
  std::atomic<bool> failed_{false};
  std::atomic<bool> unsynced_{false};  // a write not synced yet (set by the storage thread)

  // The queue: any thread in, the storage thread out.
  Mutex mu_;
  std::condition_variable_any cv_;
  // Run swaps it with its own vector whenever the whole queue fits one
  // commit, so that both keep their capacity (no allocation per op).
  std::vector<Op> queue_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  // Topic states are written by the storage thread and read by any.
  mutable Mutex topics_mu_;
  std::unordered_map<uint64_t, TopicState> topics_ GUARDED_BY(topics_mu_);
  std::unordered_map<std::string, uint64_t> topic_ids_ GUARDED_BY(topics_mu_);

  std::thread thread_;
  std::unique_ptr<IntervalSyncer> syncer_;  // with --fsync interval only
  // With --fsync always: the segment file's sync, beside the index's.
  std::unique_ptr<SideSync> segment_sync_;
};

}  // namespace herald::broker
