#pragma once
// Journal: the broker's write-ahead log. Every write of the database is
// appended here first (the bytes of its RocksDB WriteBatch), synced when the
// fsync policy asks, and only then applied to RocksDB, whose own WAL is off.
// At start the records are applied again, in order; what RocksDB had already
// flushed is written over with the same values (the store writes whole keys:
// Put, Delete, DeleteRange, never Merge), so replaying a record twice is
// harmless.
//
// Why not RocksDB's WAL: Debian's librocksdb checksums it with a table-driven
// CRC-32C, which took half of the storage thread's time in a 1 KiB publish
// burst (crc32c.h); and its flushes of a pipelined burst were what bounded
// the broker's throughput there.
//
// Files: <dir>/NNNNNNNNNNNNNNNNNNNN.log, numbered up. A new file starts when
// the current one passes file_bytes, and after any failed write, so that no
// record ever follows a torn one in its file. A record is
//   crc32c (4) | payload length (4) | index (8) | payload
// all little-endian; the CRC covers length, index and payload. The index
// counts records across files: a replay that finds one missing stops there
// (point-in-time recovery, as RocksDB's default), and sets the files from
// there on aside as NNN.log.damaged, so that later records never follow a
// hole. A file is deleted once the database has flushed all its records.
//
// Recycling (options.recycle, with --fsync always): one such file is kept,
// as NNN.log.free, and the next file is written over it under its new name.
// Writes over existing blocks commit no file size, and fdatasync after an
// extending write cost 35-50% more (2 MiB direct writes and a sync each:
// 221-248 MB/s extending, 332-342 overwriting). Before the rename to .free
// the file's first block is made zeros and synced, so a recycled file never
// replays what it held before: until its first new record it replays as
// empty, and after its new records a replay meets either the zeros that end
// their last block or an old record, whose index is below the new ones
// (indexes only grow within a run; only files made in this run are
// recycled, and a .free file left by an earlier run is deleted at open).
//
// Segments: a record may also carry the bytes of stored batches, which the
// database then refers to by location (batch_location.h) instead of holding
// them. A file whose records are all flushed is no longer replayed; if it
// still holds batches the store needs (Retire's holds_live), it is renamed
// NNN.seg and kept, and deleted (or recycled) once it holds none. Segments
// are made oldest first, so the files still replayed (.log) always follow
// them, and the index rule above holds among those. File numbers are never
// given twice in one directory, whatever a file's suffix, so a location stays
// unambiguous.
//
// Thread: one writer (the storage thread) for everything but bytes() and
// current_file().

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <rocksdb/status.h>

namespace rocksdb {
class FileSystem;
class FSWritableFile;
class FSDirectory;
}  // namespace rocksdb

namespace herald::broker {

struct JournalOptions {
  std::string dir;
  // Writes the files: the prezeroed direct-I/O one with --fsync always
  // (prezeroed_wal.h), RocksDB's default otherwise.
  std::shared_ptr<rocksdb::FileSystem> fs;
  uint64_t file_bytes = 16u << 20;
  // Keep one retired file and write the next one over it (above). The file
  // system's ReuseWritableFile must write from the file's start and cut it at
  // its length on close, as the prezeroed one's does (prezeroed_wal.h).
  bool recycle = false;
};

// Where the payload of a record starts: its file's number, and the byte in it.
struct JournalPosition {
  uint64_t file = 0;
  uint64_t offset = 0;
  bool operator==(const JournalPosition&) const = default;
};

class Journal {
 public:
  using Apply = std::function<rocksdb::Status(std::string_view record)>;
  using Position = JournalPosition;

  // The names file `number` may have in `dir`, the likeliest first: replayed
  // (.log), kept for its batches (.seg), or set aside after a hole.
  static std::vector<std::string> PathsOf(const std::string& dir, uint64_t number);

  // Opens the journal in options.dir (created if missing) and passes every
  // intact record there to `apply`, in order. *set_aside is true if records
  // after a hole were set aside: the caller should then make what was
  // applied durable some other way (flush the database), since the files
  // that held it may be among those set aside.
  static rocksdb::Status Open(JournalOptions options, const Apply& apply, bool* set_aside,
                              std::unique_ptr<Journal>* out);
  ~Journal();

  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // A record's length is stored in 32 bits; a longer one is refused
  // (InvalidArgument) before anything is written.
  static constexpr std::size_t kMaxRecordBytes = 0xffff'ffffu;

  // Writes one record (to the page cache or, with direct I/O, the device).
  // After a failure the record is not replayed.
  rocksdb::Status Append(std::string_view record) { return Append({&record, 1}, nullptr); }
  // The record is the pieces one after another. With `expect`, fails unless
  // the record starts there (as Prepare said).
  rocksdb::Status Append(std::span<const std::string_view> pieces, const Position* expect);
  // The record is (*framed)[kRecordHeaderBytes..]: its header is written
  // into the room left for it in front, and the whole goes out as one
  // write, with no copy (the store's commits of batches, megabytes each).
  static constexpr std::size_t kRecordHeaderBytes = 16;
  rocksdb::Status AppendFramed(std::string* framed, const Position* expect);
  // Opens the file the next Append will write (a new one if the current one
  // is full) and says where that record's payload will start.
  rocksdb::Status Prepare(Position* next);
  // Makes every appended record durable.
  rocksdb::Status Sync();
  // The last appended record must not be replayed (the database refused it).
  void Discard();
  // Every record appended or replayed so far is in the database at or below
  // `sequence` (RocksDB's sequence number after applying them).
  void Covered(uint64_t sequence);
  // The files whose records are all flushed (those covered at or below
  // `flushed_sequence`; the current one too, which it closes) are no longer
  // replayed: kept as segments while holds_live(number) says so, deleted
  // otherwise. Segments holds_live no longer claims are deleted as well.
  // `removed` hears of every file deleted or recycled.
  void Retire(uint64_t flushed_sequence, const std::function<bool(uint64_t)>& holds_live = {},
              const std::function<void(uint64_t)>& removed = {});
  // Syncs and closes the current file; the next Append starts a new one.
  rocksdb::Status Close();

  uint64_t bytes() const { return bytes_.load(std::memory_order_relaxed); }  // any thread
  // Gives back the disk blocks wholly inside [offset, offset + length) of a
  // segment (batches nothing refers to any more), as a hole. False if the
  // file is not a segment (yet): a replayed file must stay whole, or its
  // records would fail their CRC.
  bool Punch(uint64_t number, uint64_t offset, uint64_t length);
  // Bytes of the files a start would replay (not segments).
  uint64_t replay_bytes() const;
  // The numbers of the files it has, segments included.
  std::vector<uint64_t> FileNumbers() const;
  // The file being written, 0 if none (any thread).
  uint64_t current_file() const { return current_number_.load(std::memory_order_acquire); }

 private:
  struct File {
    uint64_t number = 0;
    uint64_t bytes = 0;
    uint64_t covered_sequence = 0;  // its records are in the database at or below this
    bool pending = false;           // it has records not covered yet
    bool recyclable = false;        // made in this run (see "Recycling" above)
    bool segment = false;           // flushed, kept for its batches (NNN.seg)
    uint64_t punched = 0;           // bytes given back as holes (segments only)
  };

  explicit Journal(JournalOptions options);
  rocksdb::Status Replay(const Apply& apply, bool* set_aside);
  rocksdb::Status OpenNewFile();
  rocksdb::Status WriteRecord(std::span<const std::string_view> pieces);
  // Append's and AppendFramed's body: with `framed`, pieces are its payload.
  rocksdb::Status Append(std::span<const std::string_view> pieces, const Position* expect,
                         std::string* framed);
  rocksdb::Status CloseCurrent();  // syncs, then closes
  std::string PathOf(uint64_t number) const;
  std::string FreePathOf(uint64_t number) const { return PathOf(number) + ".free"; }
  std::string SegmentPathOf(uint64_t number) const;
  // Renames a flushed file to SegmentPathOf; false (left as it was) on failure.
  bool MakeSegment(File& file);
  // Deletes (or recycles) the file; false if it could not be deleted.
  bool Remove(const File& file, bool may_recycle);
  // Zeros the retired file's first block, syncs it, and renames it to
  // FreePathOf; false (and the file is left as it was) on any failure.
  bool MakeFree(const File& file);
  void AddBytes(int64_t delta);

  const JournalOptions options_;
  std::unique_ptr<rocksdb::FSDirectory> dir_;
  std::deque<File> files_;  // oldest first; the back one is current_'s while it is open
  std::unique_ptr<rocksdb::FSWritableFile> current_;
  uint64_t next_number_ = 1;
  uint64_t free_number_ = 0;  // the file kept for recycling (FreePathOf), 0 if none
  uint64_t free_bytes_ = 0;
  uint64_t next_index_ = 1;
  uint64_t last_record_start_ = 0;  // in the current file, for Discard
  bool last_record_open_ = false;   // the last Append's record may still be discarded
  std::string scratch_;             // header and payload of a small record, written at once
  std::atomic<uint64_t> bytes_{0};
  std::atomic<uint64_t> current_number_{0};
};

}  // namespace herald::broker
