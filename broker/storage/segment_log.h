#pragma once
// SegmentLog: the files that hold the bytes of every stored record batch.
// RocksDB holds where each batch is (batch_location.h: file, offset, length,
// CRC-32C); this class holds the bytes, and nothing else does.
//
// Files: <dir>/NNNNNNNNNNNNNNNNNNNN.seg, numbered up, never a number twice in
// one directory. A file is the batches of one group commit after another,
// each commit one write; there is no framing of its own, since the index
// locates every batch and checks it by its CRC. A new file starts when the
// current one passes file_bytes, after a failed write (so that nothing
// follows a torn write in its file), and at every Open: a run never writes
// after bytes a crash of the previous one may have torn. Every file but the
// one being written has been synced as it closed, so after a power loss only
// the newest file (newest_file()) can lack bytes the index refers to.
//
// Retirement: the store says which topics' batches each file holds, and up
// to which offset (NoteTopic); a file is deleted once every such topic's
// start has moved past that offset, or the topic is gone (Retire). Removed
// batches inside a file that stays are given back to the file system as
// holes (Release, punched by the next Retire).
//
// Recycling (options.recycle, with --fsync always): a file deleted while the
// file being written is near its end is kept as NNN.seg.free, and the next
// file is written over it under its new name: writes over existing blocks
// commit no file size, so their fdatasync is cheaper (prezeroed_wal.h). Its
// old bytes are never read: no location points at them. At most one such
// file is kept, and none once no file is being written (every batch is
// gone), so that retention gives the space back.
//
// Files named NNN.log (and .log.damaged) come from the journal of older
// releases (legacy_journal.h); they are read like segments, and their
// numbers are never given again.
//
// Thread: one writer (the storage thread: the Writer role) appends, syncs,
// notes, releases and retires. Read, SyncWritten, bytes, newest_file and
// file_bytes are for any thread.

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <rocksdb/status.h>

#include "broker/storage/batch_location.h"
#include "schemas/thread_annotations.h"

namespace rocksdb {
class FileSystem;
class FSWritableFile;
class FSDirectory;
}  // namespace rocksdb

namespace herald::broker {

struct SegmentLogOptions {
  std::string dir;
  // Writes the files: the prezeroed direct-I/O one with --fsync always
  // (prezeroed_wal.h), RocksDB's default otherwise.
  std::shared_ptr<rocksdb::FileSystem> fs;
  uint64_t file_bytes = 16u << 20;
  // Keep one deleted file and write the next one over it (above). The file
  // system's ReuseWritableFile must write from the file's start and cut it at
  // its length on close, as the prezeroed one's does.
  bool recycle = false;
};

// Where an appended write starts: its file's number, and the byte in it.
struct SegmentPosition {
  uint64_t file = 0;
  uint64_t offset = 0;
};

class SegmentLog {
 public:
  // Returned by the `earliest` function of Retire for a topic that is gone.
  static constexpr uint64_t kTopicGone = ~uint64_t{0};

  // The names file `number` may have in `dir`, the likeliest first.
  static std::vector<std::string> PathsOf(const std::string& dir, uint64_t number);

  // Lists the files in options.dir (created if missing) and starts the new
  // file the first Append writes.
  static rocksdb::Status Open(SegmentLogOptions options, std::unique_ptr<SegmentLog>* out);
  ~SegmentLog();  // syncs and closes the file being written

  SegmentLog(const SegmentLog&) = delete;
  SegmentLog& operator=(const SegmentLog&) = delete;

  // The thread that writes (the storage thread); its entry point asserts it.
  ThreadRole writer;

  // Writes `bytes` as one write at the end of the current file (a new one if
  // there is none or it is full); *at says where they start. To the page
  // cache or, with direct I/O, the device: Sync makes them durable.
  rocksdb::Status Append(std::string_view bytes, SegmentPosition* at) REQUIRES(writer);
  // Makes every appended byte durable.
  rocksdb::Status Sync() REQUIRES(writer);
  // Syncs and closes the current file; the next Append starts a new one.
  rocksdb::Status Close() REQUIRES(writer);

  // File `file` holds batches of `topic_id` that end at or below end_offset
  // (the highest noted stays). Files nobody noted a topic for are deleted by
  // the next Retire.
  void NoteTopic(uint64_t file, uint64_t topic_id, uint64_t end_offset) REQUIRES(writer);
  // The batch at [offset, offset + length) of `file` is removed: its whole
  // blocks become a hole at the next Retire (adjacent ranges merge, so that
  // the blocks batches share go too).
  void Release(uint64_t file, uint64_t offset, uint64_t length) REQUIRES(writer);
  // Deletes (or keeps for recycling) the files whose noted topics all have
  // earliest(topic) at or past their end offset there (kTopicGone: the topic
  // is deleted), the current one included, and punches released ranges.
  // Returns the files deleted, with the topics noted for them.
  struct RetiredFile {
    uint64_t number = 0;
    std::vector<uint64_t> topics;
  };
  std::vector<RetiredFile> Retire(const std::function<uint64_t(uint64_t topic_id)>& earliest) REQUIRES(writer);
  // The numbers of the files present, oldest first.
  std::vector<uint64_t> FileNumbers() const REQUIRES(writer);

  // The batch's bytes, checked against the location's length and CRC.
  // Corruption or NotFound if they are not there whole (a file deleted under
  // the read: the caller checks whether its batch was removed meanwhile).
  rocksdb::Status Read(const BatchLocation& location, std::string* out) const;
  // fdatasyncs the file being written through a descriptor of its own, so
  // that a thread other than the writer can sync it (--fsync interval).
  // Returns 0 or the errno of the failed fdatasync.
  int SyncWritten() const;
  // Bytes on the disk: every file, less the holes punched, plus a free file.
  uint64_t bytes() const { return bytes_.load(std::memory_order_relaxed); }
  // The highest numbered file found at Open, 0 if none: the one a previous
  // run was writing when it stopped.
  uint64_t newest_file() const { return newest_at_open_; }
  // The size of file `number` on the disk, 0 if it is not there.
  uint64_t FileSize(uint64_t number) const;

 private:
  struct File {
    uint64_t number = 0;
    uint64_t bytes = 0;
    uint64_t punched = 0;  // bytes given back as holes
    bool legacy = false;   // an older release's journal file (NNN.log)
    std::unordered_map<uint64_t, uint64_t> topics;  // topic -> end offset of its batches here
  };
  class OpenFiles;  // read descriptors, any thread

  explicit SegmentLog(SegmentLogOptions options);
  rocksdb::Status OpenNewFile() REQUIRES(writer);
  rocksdb::Status CloseCurrent() REQUIRES(writer);  // syncs, then closes
  std::string PathOf(uint64_t number) const;
  std::string FreePath() const REQUIRES(writer);
  File* Find(uint64_t number) REQUIRES(writer);
  bool Live(const File& file, const std::function<uint64_t(uint64_t)>& earliest) const;
  // Deletes the file (or keeps it to recycle); false if it could not be deleted.
  bool Remove(const File& file) REQUIRES(writer);
  void PunchReleased() REQUIRES(writer);
  void AddBytes(int64_t delta);

  const SegmentLogOptions options_;
  std::unique_ptr<rocksdb::FSDirectory> dir_;
  std::deque<File> files_ GUARDED_BY(writer);  // oldest first; the back one is current_'s while it is open
  std::unique_ptr<rocksdb::FSWritableFile> current_ GUARDED_BY(writer);
  uint64_t next_number_ GUARDED_BY(writer) = 1;
  uint64_t free_number_ GUARDED_BY(writer) = 0;  // the number the free file had, 0 if none
  uint64_t free_bytes_ GUARDED_BY(writer) = 0;
  // Released byte ranges per file, sorted and merged, waiting to be punched.
  std::unordered_map<uint64_t, std::vector<std::pair<uint64_t, uint64_t>>> released_ GUARDED_BY(writer);
  uint64_t newest_at_open_ = 0;
  std::atomic<uint64_t> bytes_{0};
  std::atomic<uint64_t> current_number_{0};  // the file being written, 0 if none (SyncWritten)
  std::unique_ptr<OpenFiles> open_files_;
};

}  // namespace herald::broker
