#pragma once
// UnsyncedLedger: what a power cut would take away from a directory tree.
//
// cutfs (cutfs_main.cc) passes every operation through to a real directory at
// once, so reads need no bookkeeping. What it keeps here is how to take the
// operations back:
// - per file, every change since that file's last fsync/fdatasync, with the
//   bytes and size it replaced;
// - per directory, every create, rename, unlink, mkdir and rmdir since that
//   directory's last fsync. Unlinked and replaced files are parked in a
//   graveyard beside the tree rather than deleted, so that undoing the unlink
//   can bring them back.
// Cut() undoes what was not synced, newest first, and leaves the tree as a
// disk that honours exactly the syncs it was given would.
//
// A failed sync is remembered: ledger entries of a file whose fsync was made
// to fail stay pending across later, successful syncs of that file, because
// a kernel that reported EIO may have dropped those pages already (the
// "fsyncgate" behaviour: the next fsync succeeds without writing them).
//
// Thread: not thread-safe; cutfs serialises every operation behind one mutex.

#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace herald::cutfs {

// What a cut keeps of the writes that were not synced.
enum class CutMode {
  kDropAll,  // nothing unsynced survives
  kTorn,     // per file, the oldest unsynced writes survive, the last of them torn at a 512 B boundary
  kReorder,  // per file, a random subset of the unsynced writes survives (a later one without an earlier one)
};

struct CutReport {
  uint64_t writes_dropped = 0;   // file changes taken back
  uint64_t writes_kept = 0;      // unsynced writes a torn or reordered cut let through (whole or in part)
  uint64_t names_undone = 0;     // directory operations taken back
  uint64_t undo_failures = 0;    // operations that could not be taken back (logged to stderr)
};

class UnsyncedLedger {
 public:
  // root: the real directory cutfs serves; graveyard: an empty directory on
  // the same file system (renames into it must not cross file systems).
  UnsyncedLedger(std::string root, std::string graveyard);
  ~UnsyncedLedger();

  const std::string& root() const { return root_; }
  std::string RealPath(const std::string& path) const { return root_ + path; }

  // Call before the change is made to the real file, with a descriptor of
  // it (any access mode). Each records the bytes and size about to be
  // replaced in [offset, offset+length); RecordWrite also the new bytes, for
  // torn and reordered cuts.
  void RecordWrite(int fd, uint64_t offset, const char* data, std::size_t length);
  void RecordResize(int fd, uint64_t new_size);
  void RecordRangeChange(int fd, uint64_t offset, uint64_t length);  // fallocate

  // The file's changes so far are durable (a successful fsync/fdatasync).
  void FileSynced(int fd);
  // The file's fsync failed: its changes so far are never made durable by a later sync.
  void FileSyncFailed(int fd);

  // Directory operations, paths relative to the root and starting with '/'.
  // Created is called after the create succeeded; the others make the
  // change themselves, parking what they remove in the graveyard.
  void Created(const std::string& path);     // a file or a directory
  int Unlink(const std::string& path);       // moves the file to the graveyard; -errno on failure
  int Rmdir(const std::string& path);        // -errno on failure
  int Rename(const std::string& from, const std::string& to);  // parks a replaced target; -errno
  // Every directory operation in `dir` so far is durable.
  void DirectorySynced(const std::string& dir);

  CutReport Cut(CutMode mode, uint64_t seed);

  // Pending entries: for "stats".
  std::size_t pending_file_changes() const;
  std::size_t pending_names() const { return names_.size(); }

 private:
  struct FileChange {
    uint64_t offset = 0;
    std::string old_bytes;  // what [offset, offset + old_bytes.size()) held; the range ends at the old size
    uint64_t old_size = 0;
    bool is_write = false;
    std::string new_bytes;  // for a write: what it wrote
  };
  struct FileLedger {
    int fd = -1;  // the real file, open for as long as it has pending changes (survives renames)
    std::vector<FileChange> pending;
    std::vector<FileChange> lost;  // behind a failed sync: undone at the cut, whatever syncs follow
  };
  enum class NameOp { kCreate, kUnlink, kRmdir, kRename };
  struct NameChange {
    NameOp op;
    std::string path;        // the name created or removed, or the rename's source
    std::string to;          // the rename's target
    std::string parked;      // graveyard name of the unlinked file, or of the target a rename replaced
    bool is_dir = false;
  };

  // The ledger of the file behind fd, made on first use; null if the file
  // cannot be reopened.
  FileLedger* LedgerOf(int fd);
  FileChange Capture(FileLedger& f, uint64_t offset, uint64_t length);
  std::string Park(const std::string& real_path);
  bool Undo(const NameChange& c);
  static std::string Parent(const std::string& path);

  std::string root_;
  std::string graveyard_;
  uint64_t parked_count_ = 0;
  std::map<uint64_t, FileLedger> files_;  // by inode of the real file
  std::vector<NameChange> names_;         // oldest first
};

}  // namespace herald::cutfs
