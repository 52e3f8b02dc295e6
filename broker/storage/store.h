#pragma once
// Store: the broker's one RocksDB database (topic logs, group positions,
// producer state, topic metadata) and the storage thread that writes it.
//
// Thread: writes run only on the storage thread, in submission order. It
// drains its queue into one WriteBatch and one (synced) write: group commit,
// so concurrent publishes from any number of connections share one fsync.
// Completion callbacks run on the storage thread; callers post them onward.
// Reads (ReadBatches) are safe from any thread.
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
#include "broker/storage/record_batch.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
struct DBOptions;
class Status;
class WriteBatch;
}  // namespace rocksdb

namespace herald::broker {

class DiskReserve;
class Journal;
class JournalReader;
struct JournalPosition;

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
  // kAlways: a write is fsynced before it completes. kInterval: the journal
  // is fsynced every fsync_interval. kNever: left to the OS. In every mode a
  // completed write is in the journal file (journal.h), so it survives a
  // crash of the process.
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

  using AppendDone = std::function<void(AppendResult)>;
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

  // Reads the batches of `topic_id` that hold offsets >= from_offset, in order,
  // until they hold max_messages messages from from_offset on, or about
  // max_bytes are read.
  Status ReadBatches(uint64_t topic_id, uint64_t from_offset, std::size_t max_messages,
                     std::size_t max_bytes,
                     std::vector<std::shared_ptr<const RecordBatch>>* out) const;

  // Summaries of the stored batches of a topic from the one holding
  // from_offset on, at most max_batches (any thread; reads the small index).
  Status ListBatches(uint64_t topic_id, uint64_t from_offset, std::size_t max_batches,
                     std::vector<BatchSummary>* out) const;
  // The first offset appended at or after timestamp_ms; the topic's next
  // offset if there is none.
  uint64_t OffsetForTime(uint64_t topic_id, int64_t timestamp_ms);
  // Gives the disk space of removed batches back (slow; any thread but the
  // storage thread, so that publishes do not wait for it).
  Status CompactTopicRange(uint64_t topic_id, uint64_t before);
  // SST files plus journal, in bytes.
  uint64_t StorageBytes() const;
  // Memory of every column family's memtables: the one being written and
  // those waiting for (or in) a flush. Any thread.
  uint64_t MemtableBytes() const;
  // False after a write failed, until one succeeds again (for /healthz).
  bool healthy() const { return !write_failing_.load(std::memory_order_relaxed); }

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
  class Commit;         // one group commit in progress (store_commit.cc)
  class FlushListener;  // what RocksDB has flushed, per column family (store_journal.cc)

  Store() = default;
  Status LoadTopics();
  void Enqueue(Op op);
  void Run();  // the storage thread
  void ProcessAll(std::deque<Op>& ops);
  void ApplyCreateTopic(CreateTopicOp& op);
  void ApplyDeleteTopic(DeleteTopicOp& op);
  void ApplyTruncate(TruncateOp& op);
  Status LoadTopicLog(TopicState* t);
  Status RebuildIndex(uint64_t topic_id);
  ProducerState& LoadProducer(const ProducerKey& key);
  // Storage thread: true if writes may be tried; after a failed write it
  // tries db->Resume() at most every kResumeInterval, else sets *why.
  bool EnsureWritable(Status* why);
  // Why writes wait: the room they need is not free on the disk.
  Status NoSpaceError() const;
  static constexpr std::chrono::milliseconds kResumeInterval{200};
  // The journal (store_journal.cc). ListenForFlushes: before DB::Open;
  // OpenJournal replays it into the open database; CloseJournal flushes the
  // database and deletes the journal's files.
  void ListenForFlushes(rocksdb::DBOptions* db_options);
  Status OpenJournal();
  void CloseJournal();
  bool FlushedSinceRetire() const;  // a flush completed since RetireJournal looked
  // Every write of the database: into the journal (synced if asked), then
  // into RocksDB.
  // With `record`, the journal record is that instead (Journal::AppendFramed:
  // room for its header, the prefix, the batches, then `batch`'s bytes;
  // store_internal.h), and must start at *at.
  rocksdb::Status WriteJournaled(rocksdb::WriteBatch& batch, bool sync, std::string* record = nullptr,
                                 const JournalPosition* at = nullptr);
  // --fsync interval: a thread of its own fdatasyncs the journal file being
  // written every fsync_interval, if it was written since. The storage
  // thread did it between commits before, and every commit that came during
  // the sync waited for it: those were the interval latency run's p99.
  void RunIntervalSyncer();
  // The sequence number at or below which every write is in SST files.
  uint64_t FlushedSequence() const;
  // A RocksDB integer property summed over every column family.
  uint64_t SumOverFamilies(const std::string& property) const;
  // After flushes, deletes the journal files they made redundant.
  void RetireJournal();
  // Journal files kept for their batches (batch_location.h): which topics'
  // batches each holds, read from the meta family at start.
  void LoadSegments();
  void RetireFlushedFiles();             // journal_->Retire with the two below
  bool HoldsLiveBatches(uint64_t file);  // storage thread
  void SegmentRemoved(uint64_t file);    // storage thread
  // Syncs the journal file being written, through a descriptor of its own
  // (any thread: a flush's, before it makes locations of batches in that
  // file durable, and RunIntervalSyncer's). Files before it were synced as
  // they closed.
  void SyncJournalFile();
  // A read of a located batch failed: true if the batch is gone meanwhile
  // (retention, purge, topic deletion) rather than damaged.
  bool BatchRemoved(uint64_t topic_id, uint64_t end_offset) const;
  std::size_t CommitBatchReserve() const;
  std::size_t CommitRecordReserve() const;
  std::unique_ptr<rocksdb::WriteBatch> NewCommitBatch() const;

  StoreOptions options_;
  std::shared_ptr<FlushListener> flushes_;
  std::unique_ptr<rocksdb::DB> db_;
  std::unique_ptr<Journal> journal_;  // storage thread (and Open, ~Store)
  std::unique_ptr<JournalReader> reader_;  // any thread
  std::unique_ptr<DiskReserve> reserve_;   // Open, then the storage thread
  // The storage thread's buffer for the batches of one commit's journal
  // record, reserved once like commit_batch_.
  std::string commit_batches_;
  // Journal file -> topic -> end offset of its last batch there; a file holds
  // live batches while a topic in it has not moved its start past that.
  std::unordered_map<uint64_t, std::unordered_map<uint64_t, uint64_t>> segment_topics_;  // storage thread
  // Byte ranges of removed batches, per journal file, to punch out of it
  // once it is a segment (Journal::Punch).
  using DeadRanges = std::unordered_map<uint64_t, std::vector<std::pair<uint64_t, uint64_t>>>;
  DeadRanges dead_ranges_;  // storage thread
  // Adds the ranges of the located batches of `topic_id` below offset
  // `before` to *out (read before a removal, added to dead_ranges_ after).
  Status RangesOfBatches(uint64_t topic_id, uint64_t before, DeadRanges* out) const;
  // Adds ranges read by RangesOfBatches to dead_ranges_ once the removal is
  // written, merging adjacent ones (a topic's batches mostly are).
  void AddDeadRanges(DeadRanges dead);
  void PunchDeadRanges();  // storage thread
  // "seg/" keys of removed files, deleted by the next commit.
  std::vector<std::string> stale_segment_keys_;  // storage thread
  bool segments_dirty_ = true;  // a topic's start moved or one was deleted: sweep the segments
  std::atomic<uint64_t> journal_file_written_{0};  // for SyncJournalFile (journal_ is the storage thread's)
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  rocksdb::ColumnFamilyHandle* meta_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* log_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* groups_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* producers_cf_ = nullptr;
  // The storage thread's WriteBatch, reserved once for a full commit and
  // cleared for each: growing a fresh one per commit reallocated and copied
  // it up to ten times, and its freed megabytes fragmented the heap (peak RSS).
  std::unique_ptr<rocksdb::WriteBatch> commit_batch_;
  rocksdb::ColumnFamilyHandle* index_cf_ = nullptr;
  std::atomic<bool> write_failing_{false};
  std::chrono::steady_clock::time_point last_resume_attempt_;  // storage thread
  Status resume_error_;                                        // storage thread

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Op> queue_;          // GUARDED_BY(mu_)
  bool stopping_ = false;         // GUARDED_BY(mu_)
  // Topic states are written by the storage thread and read by Topics().
  mutable std::mutex topics_mu_;
  std::unordered_map<uint64_t, TopicState> topics_;        // GUARDED_BY(topics_mu_)
  std::unordered_map<std::string, uint64_t> topic_ids_;   // GUARDED_BY(topics_mu_)
  uint64_t next_topic_id_ = 1;                            // storage thread only

  std::unordered_map<ProducerKey, ProducerState, ProducerKeyHash> producers_;  // storage thread
  uint64_t forced_flush_at_bytes_ = 0;                                         // storage thread
  uint64_t retired_at_flush_ = 0;  // the flush count when the journal last retired files; storage thread

  std::thread thread_;
  std::thread syncer_;  // RunIntervalSyncer, with --fsync interval only
  std::mutex syncer_mu_;
  std::condition_variable syncer_cv_;
  bool syncer_stopping_ = false;                  // GUARDED_BY(syncer_mu_)
  std::atomic<bool> journal_unsynced_{false};  // a write not synced yet (set by the storage thread)
};

}  // namespace herald::broker
