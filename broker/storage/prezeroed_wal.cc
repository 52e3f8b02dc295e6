#include "broker/storage/prezeroed_wal.h"

#include <fcntl.h>
#include <rocksdb/file_system.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>

#include "schemas/durable_dir.h"
#include "schemas/thread_name.h"

namespace herald::broker {

namespace {

using rocksdb::IODebugContext;
using rocksdb::IOOptions;
using rocksdb::IOStatus;

// Direct I/O needs offsets, lengths and buffers aligned to the device's
// logical block; 4 KiB is a multiple of every one in use.
constexpr uint64_t kBlock = 4096;
// The most one write of the log covers, and so the bounce buffer of each
// open WAL file (direct I/O cannot write from RocksDB's unaligned memory).
constexpr std::size_t kMaxWriteBytes = 1u << 20;

uint64_t AlignDown(uint64_t n) { return n & ~(kBlock - 1); }
uint64_t AlignUp(uint64_t n) { return AlignDown(n + kBlock - 1); }

IOStatus ErrnoStatus(const char* what, const std::string& file, int err) {
  std::string context = std::string(what) + " " + file;
  if (err == ENOSPC) return IOStatus::NoSpace(context, std::strerror(err));
  return IOStatus::IOError(context, std::strerror(err));
}

// Writes all of data[0, n) at offset; returns 0 or an errno. A direct write
// that stops short leaves an aligned remainder on every Linux file system
// that supports O_DIRECT; one that does not is reported, not retried.
int WriteAt(int fd, const char* data, std::size_t n, uint64_t offset) {
  while (n > 0) {
    ssize_t w = ::pwrite(fd, data, n, static_cast<off_t>(offset));
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return errno;
    if (w == 0 || static_cast<uint64_t>(w) % kBlock != 0) return EIO;
    data += w;
    n -= static_cast<std::size_t>(w);
    offset += static_cast<uint64_t>(w);
  }
  return 0;
}

// Writes all of the two pieces at offset (buffered: no alignment needed);
// returns 0 or an errno.
int WriteTwoAt(int fd, const char* a, std::size_t a_size, const char* b, std::size_t b_size,
               uint64_t offset) {
  iovec iov[2] = {{const_cast<char*>(a), a_size}, {const_cast<char*>(b), b_size}};
  int first = 0;
  while (first < 2) {
    ssize_t w = ::pwritev(fd, iov + first, 2 - first, static_cast<off_t>(offset));
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return errno;
    if (w == 0) return EIO;
    offset += static_cast<uint64_t>(w);
    for (std::size_t left = static_cast<std::size_t>(w); left > 0 && first < 2;) {
      const std::size_t take = std::min(left, iov[first].iov_len);
      iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + take;
      iov[first].iov_len -= take;
      left -= take;
      if (iov[first].iov_len == 0) ++first;
    }
  }
  return 0;
}

// Memory aligned for direct I/O.
class AlignedBuffer {
 public:
  char* data() { return data_.get(); }
  // Makes room for n bytes; the old contents are not kept.
  void Reserve(std::size_t n) {
    if (n <= capacity_) return;
    const std::size_t capacity = AlignUp(n);
    data_.reset(static_cast<char*>(std::aligned_alloc(kBlock, capacity)));
    if (!data_) throw std::bad_alloc();
    capacity_ = capacity;
  }

 private:
  struct Free {
    void operator()(char* p) const { std::free(p); }
  };
  using Ptr = std::unique_ptr<char, Free>;
  Ptr data_;
  std::size_t capacity_ = 0;
};

using Clock = std::chrono::steady_clock;

// How long one piece of zeros takes at max_zero_bytes_per_second.
Clock::duration PieceTime(const PrezeroedWalOptions& options) {
  return std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(static_cast<double>(options.piece_bytes) /
                                    static_cast<double>(options.max_zero_bytes_per_second)));
}

AlignedBuffer ZeroPiece(const PrezeroedWalOptions& options) {
  AlignedBuffer zeros;
  zeros.Reserve(options.piece_bytes);
  std::memset(zeros.data(), 0, options.piece_bytes);
  return zeros;
}

// One WAL file. RocksDB calls Append/Truncate/Close from one thread at a time
// (Sync may come from another); the zeroing thread shares only the fields
// under mu_.
class PrezeroedWalFile final : public rocksdb::FSWritableFile {
 public:
  // zeroed: bytes of synced zeros the file starts with (a spare's).
  PrezeroedWalFile(std::string name, int fd, uint64_t zeroed, const PrezeroedWalOptions& options)
      : name_(std::move(name)),
        fd_(fd),
        options_(options),
        zeros_(ZeroPiece(options)),
        zeroed_to_(zeroed),
        zeroer_([this] {
          NameThisThread("zero-ahead");
          ZeroAhead();
        }) {
    buffer_.Reserve(kMaxWriteBytes);
  }

  ~PrezeroedWalFile() override { CloseFile(); }

  IOStatus Append(const rocksdb::Slice& data, const IOOptions&, IODebugContext*) override {
    if (data.size() >= kBufferedFrom) return AppendBuffered(data.data(), data.size());
    // Large appends (a commit of a pipelined burst: up to 2 MiB) go out in
    // writes of at most kMaxWriteBytes, so that the bounce buffer of every
    // open WAL stays that small.
    const char* p = data.data();
    std::size_t left = data.size();
    while (left > 0) {
      const uint64_t size = size_.load(std::memory_order_relaxed);
      const std::size_t n = std::min<std::size_t>(left, kMaxWriteBytes - (size - AlignDown(size)));
      if (IOStatus s = WriteBlocks(p, n); !s.ok()) return s;
      p += n;
      left -= n;
    }
    return IOStatus::OK();
  }

  IOStatus Append(const rocksdb::Slice& data, const IOOptions& options,
                  const rocksdb::DataVerificationInfo&, IODebugContext* dbg) override {
    return Append(data, options, dbg);
  }

  // Each Append is written before it returns: nothing is buffered here.
  IOStatus Flush(const IOOptions&, IODebugContext*) override { return IOStatus::OK(); }

  // The data is on the device already (direct writes); fdatasync flushes the
  // device's cache, and commits the size if a write went past the zeros.
  IOStatus Sync(const IOOptions&, IODebugContext*) override {
    if (int err = SyncFileData(fd_)) return ErrnoStatus("fdatasync", name_, err);
    return IOStatus::OK();
  }

  // fdatasync races with nothing here: DB::SyncWAL may call it beside an
  // Append (the broker's shutdown sync of unsynced position writes does).
  bool IsSyncThreadSafe() const override { return true; }

  IOStatus Fsync(const IOOptions&, IODebugContext*) override {
    while (::fsync(fd_) != 0) {
      if (errno != EINTR) return ErrnoStatus("fsync", name_, errno);
    }
    return IOStatus::OK();
  }

  IOStatus Truncate(uint64_t size, const IOOptions&, IODebugContext*) override {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return claim_end_ == claim_start_; });
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0)
      return ErrnoStatus("truncate", name_, errno);
    // Reload the partial last block, which the next Append rewrites.
    const uint64_t tail_start = AlignDown(size);
    std::memset(buffer_.data(), 0, kBlock);
    if (size > tail_start) {
      ssize_t r;
      do {
        r = ::pread(fd_, buffer_.data(), kBlock, static_cast<off_t>(tail_start));
      } while (r < 0 && errno == EINTR);
      if (r < 0 || static_cast<uint64_t>(r) < size - tail_start)
        return ErrnoStatus("read", name_, r < 0 ? errno : EIO);
    }
    size_.store(size, std::memory_order_relaxed);
    zeroed_to_ = size;
    writing_to_ = AlignUp(size);
    return IOStatus::OK();
  }

  IOStatus Close(const IOOptions&, IODebugContext*) override { return CloseFile(); }

  uint64_t GetFileSize(const IOOptions&, IODebugContext*) override {
    return size_.load(std::memory_order_relaxed);
  }

  // Nothing is in the page cache.
  IOStatus InvalidateCache(std::size_t, std::size_t) override { return IOStatus::OK(); }

  // RocksDB reserves the log's space ahead (PrepareWrite calls this a block
  // of ~1.1 write buffers at a time), as its own WAL files do. Beyond saving
  // allocations, it keeps a full disk from failing a WAL write: RocksDB then
  // fails the SST flush instead and refuses writes cleanly, where a failed
  // WAL append leaves a log writer that later trips an assertion in
  // RocksDB 7.8 (seen in the disk-full test).
  IOStatus Allocate(uint64_t offset, uint64_t len, const IOOptions&, IODebugContext*) override {
    int err = 0;
    do {
      err = ::fallocate(fd_, FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                        static_cast<off_t>(len)) == 0
                ? 0
                : errno;
    } while (err == EINTR);
    return err == 0 ? IOStatus::OK() : ErrnoStatus("fallocate", name_, err);
  }

 private:
  // Appends of this size or more (the commits of a pipelined burst) go
  // through the page cache. A direct write waits for the device, and so the
  // storage thread waited for two: the write, then fdatasync's cache flush
  // (1.8 MB commits: 5.9 ms writing, 3.7 ms syncing, 190 MB/s in all). A
  // buffered write returns once copied, and fdatasync writes the pages out
  // with the device's queue full: 1 KiB publish 219-234k msg/s against
  // 155-159k. A small commit waits less for a direct write than for a
  // buffered one and its writeback (latency p50 ~480-590 us against
  // 745-785 at 10k msg/s), so small appends stay direct.
  static constexpr std::size_t kBufferedFrom = 128u << 10;

  // Writes data[0, n) after the log's end through a second, buffered
  // descriptor. A later direct write of the last block writes the kernel's
  // dirty pages first and drops them (the kernel keeps a file's buffered
  // and direct views coherent), and rewrites the bytes they held, which the
  // buffer keeps as the partial last block.
  IOStatus AppendBuffered(const char* data, std::size_t n) {
    if (buffered_fd_ < 0) {
      buffered_fd_ = ::open(name_.c_str(), O_WRONLY | O_CLOEXEC);
      if (buffered_fd_ < 0) return ErrnoStatus("open", name_, errno);
    }
    const uint64_t size = size_.load(std::memory_order_relaxed);
    const uint64_t start = AlignDown(size);
    const std::size_t head = size - start;
    const uint64_t end = size + n;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return claim_end_ == claim_start_ || claim_start_ >= AlignUp(end); });
      writing_to_ = std::max(writing_to_, AlignUp(end));
    }
    // From the start of the partial last block, so that its page need not
    // be read from the device first.
    if (int err = WriteTwoAt(buffered_fd_, buffer_.data(), head, data, n, start)) {
      return ErrnoStatus("write", name_, err);
    }
    size_.store(end, std::memory_order_relaxed);
    const std::size_t tail = end - AlignDown(end);  // < kBlock <= n
    std::memcpy(buffer_.data(), data + n - tail, tail);
    return IOStatus::OK();
  }

  // Writes data[0, n) after the log's end as whole blocks: the partial last
  // block written before (kept at the front of buffer_), the new bytes, and
  // zeros to the block's end. REQUIRES: the blocks fit in kMaxWriteBytes.
  IOStatus WriteBlocks(const char* data, std::size_t n) {
    const uint64_t size = size_.load(std::memory_order_relaxed);
    const uint64_t start = AlignDown(size);
    const std::size_t head = size - start;
    const uint64_t end = size + n;
    const std::size_t len = AlignUp(end) - start;
    std::memcpy(buffer_.data() + head, data, n);
    std::memset(buffer_.data() + head + n, 0, len - head - n);
    bool wake_zeroer = false;
    {
      std::unique_lock lock(mu_);
      // A piece of zeros being written over these blocks would land after
      // them: wait for it (only a log that outran its zeros gets here).
      cv_.wait(lock, [&] { return claim_end_ == claim_start_ || claim_start_ >= start + len; });
      writing_to_ = std::max(writing_to_, start + len);
      wake_zeroer = LeadLocked() < options_.lead_bytes / 2;
    }
    if (wake_zeroer) cv_.notify_all();
    if (int err = WriteAt(fd_, buffer_.data(), len, start)) return ErrnoStatus("write", name_, err);
    size_.store(end, std::memory_order_relaxed);
    const uint64_t tail_start = AlignDown(end);
    std::memmove(buffer_.data(), buffer_.data() + (tail_start - start), end - tail_start);
    return IOStatus::OK();
  }

  // Zeros ahead of the last write. REQUIRES: mu_ held.
  uint64_t LeadLocked() const { return std::max(zeroed_to_, writing_to_) - writing_to_; }

  // The zeroing thread: keeps lead_bytes of synced zeros after the log's end,
  // a piece at a time, at no more than max_zero_bytes_per_second.
  void ZeroAhead() {
    const auto piece_time = PieceTime(options_);
    auto next_piece = Clock::now();
    std::size_t unsynced = 0;
    std::unique_lock lock(mu_);
    while (!stopping_) {
      const bool enough = LeadLocked() >= options_.lead_bytes;
      // Sync the zeros (their size and extents) here rather than in the
      // log's next fdatasync: once the lead is made, or every half lead.
      if (unsynced > 0 && (enough || unsynced >= options_.lead_bytes / 2)) {
        lock.unlock();
        int err = SyncFileData(fd_);
        if (err && options_.on_sync_error) options_.on_sync_error(name_, err);
        lock.lock();
        if (err) break;
        unsynced = 0;
        continue;
      }
      if (enough) {
        cv_.wait(lock, [&] { return stopping_ || LeadLocked() < options_.lead_bytes / 2; });
        continue;
      }
      if (Clock::now() < next_piece) {
        cv_.wait_until(lock, next_piece, [&] { return stopping_; });
        continue;
      }
      claim_start_ = std::max(zeroed_to_, writing_to_);
      claim_end_ = claim_start_ + options_.piece_bytes;
      lock.unlock();
      int err = WriteAt(fd_, zeros_.data(), options_.piece_bytes, claim_start_);
      lock.lock();
      if (!err) zeroed_to_ = claim_end_;
      claim_start_ = claim_end_ = 0;
      cv_.notify_all();  // an Append may wait for this piece
      // Out of space or any other failure: stop; the log's own writes extend
      // the file and report their own errors.
      if (err) break;
      unsynced += options_.piece_bytes;
      next_piece = std::max(next_piece, Clock::now() - piece_time) + piece_time;
    }
  }

  IOStatus CloseFile() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (zeroer_.joinable()) zeroer_.join();
    // RocksDB keeps a closed log's writer until the log is obsolete (several
    // may wait for their memtables' flush): its buffers go now.
    buffer_ = AlignedBuffer();
    zeros_ = AlignedBuffer();
    if (buffered_fd_ >= 0) ::close(buffered_fd_);
    buffered_fd_ = -1;
    if (fd_ < 0) return IOStatus::OK();
    // Cut the zeros: a closed log ends with its last record.
    IOStatus status;
    if (::ftruncate(fd_, static_cast<off_t>(size_.load(std::memory_order_relaxed))) != 0)
      status = ErrnoStatus("truncate", name_, errno);
    ::close(fd_);
    fd_ = -1;
    return status;
  }

  const std::string name_;
  int fd_;
  int buffered_fd_ = -1;  // AppendBuffered's, opened at its first use
  const PrezeroedWalOptions options_;
  // Bytes of log written: the file's length once closed. Written by the
  // appending thread only; atomic because GetFileSize may come from another.
  std::atomic<uint64_t> size_{0};
  AlignedBuffer buffer_;  // starts with the partial last block of the log
  AlignedBuffer zeros_;

  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t zeroed_to_;                        // the zeros written so far end here
  uint64_t writing_to_ = 0;                   // the log's writes (whole blocks) end here
  uint64_t claim_start_ = 0, claim_end_ = 0;  // a piece of zeros being written
  bool stopping_ = false;
  std::thread zeroer_;
};

// RocksDB names its WAL files NNNNNN.log (LOG, without a dot, is its info
// log); the segment log names its files NNN.seg (segment_log.h).
bool IsWalFile(const std::string& path) {
  std::size_t slash = path.find_last_of('/');
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  if (base.size() <= 4) return false;
  const std::string suffix = base.substr(base.size() - 4);
  if (suffix != ".log" && suffix != ".seg") return false;
  return std::all_of(base.begin(), base.end() - 4, [](char c) { return c >= '0' && c <= '9'; });
}

// The file system keeps one spare: a file of lead_bytes synced zeros beside
// the WAL, made in the background and renamed to the name of the next WAL
// RocksDB creates. A new log (every memtable switch) then starts on blocks
// that exist, instead of with allocating writes while its own zeroing thread
// gets going. A crash can leave the spare behind; RocksDB ignores names it
// does not know, and the next spare is made over it.
class PrezeroedWalFileSystem final : public rocksdb::FileSystemWrapper {
 public:
  static constexpr const char* kSpareName = "herald-wal-spare";

  PrezeroedWalFileSystem(std::shared_ptr<rocksdb::FileSystem> base, PrezeroedWalOptions options)
      : FileSystemWrapper(std::move(base)), options_(options) {}

  ~PrezeroedWalFileSystem() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (spare_maker_.joinable()) spare_maker_.join();
    if (!spare_path_.empty()) {
      ::unlink(spare_path_.c_str());
      ::unlink((spare_path_ + ".making").c_str());
    }
  }

  const char* Name() const override { return "HeraldPrezeroedWal"; }

  IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& file_options,
                           std::unique_ptr<rocksdb::FSWritableFile>* result,
                           IODebugContext* dbg) override {
    if (!IsWalFile(name)) return target()->NewWritableFile(name, file_options, result, dbg);
    int fd = -1;
    uint64_t zeroed = 0;
    {
      std::lock_guard lock(mu_);
      const std::string spare = SparePathFor(name);
      if (spare_ready_ && spare == spare_path_ && ::rename(spare.c_str(), name.c_str()) == 0) {
        fd = ::open(name.c_str(), O_RDWR | O_CLOEXEC | O_DIRECT);
        if (fd >= 0) zeroed = options_.lead_bytes;
      }
      spare_ready_ = false;
      spare_path_ = spare;
      ++spare_requests_;
      if (!spare_maker_.joinable()) spare_maker_ = std::thread([this] {
        NameThisThread("spare-maker");
        MakeSpares();
      });
    }
    cv_.notify_all();
    if (fd < 0) fd = ::open(name.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_DIRECT, 0644);
    if (fd < 0 && errno == EINVAL) {
      std::call_once(no_direct_logged_, [&] {
        spdlog::info(
            "{}: no direct I/O on this file system; the write-ahead log goes through the "
            "page cache",
            name);
      });
      return target()->NewWritableFile(name, file_options, result, dbg);
    }
    if (fd < 0) return ErrnoStatus("open", name, errno);
    *result = std::make_unique<PrezeroedWalFile>(name, fd, zeroed, options_);
    return IOStatus::OK();
  }

  // A file written again from its start under a new name (the segment
  // log's recycling, segment_log.h). Every block of it exists, so the log
  // overwrites them up to the old length, with no zeroing and no size to
  // commit. Its old bytes stay behind the new ones until Close cuts them;
  // nothing reads them (no batch location points there).
  IOStatus ReuseWritableFile(const std::string& name, const std::string& old_name,
                             const rocksdb::FileOptions& file_options,
                             std::unique_ptr<rocksdb::FSWritableFile>* result,
                             IODebugContext* dbg) override {
    if (!IsWalFile(name)) return target()->ReuseWritableFile(name, old_name, file_options, result, dbg);
    int fd = ::open(old_name.c_str(), O_RDWR | O_CLOEXEC | O_DIRECT);
    if (fd < 0 && errno == EINVAL) {  // no direct I/O here: a new file instead
      ::unlink(old_name.c_str());
      return NewWritableFile(name, file_options, result, dbg);
    }
    if (fd < 0) return ErrnoStatus("open", old_name, errno);
    struct stat st {};
    if (::fstat(fd, &st) != 0 || ::rename(old_name.c_str(), name.c_str()) != 0) {
      IOStatus s = ErrnoStatus("reuse", old_name, errno);
      ::close(fd);
      return s;
    }
    *result = std::make_unique<PrezeroedWalFile>(name, fd, AlignDown(static_cast<uint64_t>(st.st_size)), options_);
    return IOStatus::OK();
  }

 private:
  static std::string SparePathFor(const std::string& wal) {
    std::size_t slash = wal.find_last_of('/');
    return (slash == std::string::npos ? std::string() : wal.substr(0, slash + 1)) + kSpareName;
  }

  // The spare maker thread: each time a WAL was created, makes the next spare.
  void MakeSpares() {
    AlignedBuffer zeros = ZeroPiece(options_);
    const auto piece_time = PieceTime(options_);
    uint64_t served = 0;
    std::unique_lock lock(mu_);
    while (!stopping_) {
      if (spare_ready_ || served == spare_requests_) {
        cv_.wait(lock);
        continue;
      }
      served = spare_requests_;
      const std::string path = spare_path_;
      lock.unlock();
      // Made under another name and renamed once complete and synced, with
      // spare_ready_ set in the same hold of mu_: a spare under its name is
      // always one that the next file may take.
      const std::string making = path + ".making";
      bool made = false;
      int fd = ::open(making.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_DIRECT, 0644);
      if (fd >= 0) {
        made = true;
        auto next_piece = Clock::now();
        for (uint64_t at = 0; made && at < options_.lead_bytes; at += options_.piece_bytes) {
          {
            std::unique_lock pace(mu_);
            made = !cv_.wait_until(pace, next_piece, [&] { return stopping_; });
          }
          next_piece = std::max(next_piece, Clock::now() - piece_time) + piece_time;
          made = made && WriteAt(fd, zeros.data(), options_.piece_bytes, at) == 0;
        }
        made = made && SyncFileData(fd) == 0;
        ::close(fd);
      }
      lock.lock();
      // A failure (out of space) leaves no spare, and the next WAL is made
      // without one; its creation asks for a spare again.
      if (made && path == spare_path_ && ::rename(making.c_str(), path.c_str()) == 0) {
        spare_ready_ = true;
        served = spare_requests_;
      } else {
        ::unlink(making.c_str());
      }
    }
  }

  const PrezeroedWalOptions options_;
  std::once_flag no_direct_logged_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string spare_path_;       // the spare in the WAL's directory; empty until the first WAL
  bool spare_ready_ = false;     // the spare at spare_path_ is complete and synced
  uint64_t spare_requests_ = 0;  // WALs created: each asks for the next spare
  bool stopping_ = false;
  std::thread spare_maker_;
};

}  // namespace

std::shared_ptr<rocksdb::FileSystem> NewPrezeroedWalFileSystem(
    std::shared_ptr<rocksdb::FileSystem> base, PrezeroedWalOptions options) {
  return std::make_shared<PrezeroedWalFileSystem>(std::move(base), options);
}

}  // namespace herald::broker
