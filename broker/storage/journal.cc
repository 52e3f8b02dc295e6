#include "broker/storage/journal.h"

#include <fcntl.h>
#include <rocksdb/file_system.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "broker/storage/crc32c.h"
#include "broker/storage/varint.h"

namespace herald::broker {

namespace {

constexpr std::size_t kHeaderBytes = 16;  // crc32c, length, index
// A record up to this size is copied behind its header and written at once;
// a larger one goes out as two writes rather than one more copy of megabytes.
constexpr std::size_t kCopyLimit = 256u << 10;
constexpr const char* kSuffix = ".log";

// The header of `payload` as record number `index`: its CRC covers the
// length, the index and the payload.
std::string EncodeHeader(std::string_view payload, uint64_t index) {
  std::string tail;
  codec::PutFixed32(&tail, static_cast<uint32_t>(payload.size()));
  codec::PutFixed64(&tail, index);
  std::string header;
  codec::PutFixed32(&header, crc32c::Extend(crc32c::Value(tail), payload.data(), payload.size()));
  return header + tail;
}

// The number of a journal file's name ("00000000000000000042.log"), or 0.
uint64_t NumberOf(const std::string& name) {
  const std::size_t digits = name.size() - std::min(name.size(), std::strlen(kSuffix));
  if (digits == 0 || !name.ends_with(kSuffix)) return 0;
  uint64_t n = 0;
  for (std::size_t i = 0; i < digits; ++i) {
    if (name[i] < '0' || name[i] > '9') return 0;
    n = n * 10 + static_cast<uint64_t>(name[i] - '0');
  }
  return n;
}

rocksdb::Status ReadWholeFile(const std::string& path, std::string* out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return rocksdb::Status::IOError("open " + path, std::strerror(errno));
  out->clear();
  char chunk[1 << 16];
  for (;;) {
    ssize_t r = ::read(fd, chunk, sizeof chunk);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      int err = errno;
      ::close(fd);
      return rocksdb::Status::IOError("read " + path, std::strerror(err));
    }
    if (r == 0) break;
    out->append(chunk, static_cast<std::size_t>(r));
  }
  ::close(fd);
  return rocksdb::Status::OK();
}

}  // namespace

Journal::Journal(JournalOptions options) : options_(std::move(options)) {}

Journal::~Journal() { CloseCurrent(); }

std::string Journal::PathOf(uint64_t number) const {
  std::string digits = std::to_string(number);
  return options_.dir + "/" + std::string(20 - std::min<std::size_t>(20, digits.size()), '0') + digits + kSuffix;
}

void Journal::AddBytes(int64_t delta) {
  bytes_.store(static_cast<uint64_t>(static_cast<int64_t>(bytes()) + delta), std::memory_order_relaxed);
}

rocksdb::Status Journal::Open(JournalOptions options, const Apply& apply, bool* set_aside,
                              std::unique_ptr<Journal>* out) {
  std::unique_ptr<Journal> journal(new Journal(std::move(options)));
  rocksdb::FileSystem& fs = *journal->options_.fs;
  rocksdb::IOStatus s = fs.CreateDirIfMissing(journal->options_.dir, rocksdb::IOOptions(), nullptr);
  if (s.ok()) s = fs.NewDirectory(journal->options_.dir, rocksdb::IOOptions(), &journal->dir_, nullptr);
  if (!s.ok()) return s;
  *set_aside = false;
  rocksdb::Status replayed = journal->Replay(apply, set_aside);
  if (!replayed.ok()) return replayed;
  *out = std::move(journal);
  return rocksdb::Status::OK();
}

rocksdb::Status Journal::Replay(const Apply& apply, bool* set_aside) {
  rocksdb::FileSystem& fs = *options_.fs;
  std::vector<std::string> names;
  rocksdb::IOStatus listed = fs.GetChildren(options_.dir, rocksdb::IOOptions(), &names, nullptr);
  if (!listed.ok()) return listed;
  std::vector<uint64_t> numbers;
  for (const std::string& name : names) {
    if (uint64_t n = NumberOf(name)) numbers.push_back(n);
    // An earlier run's file kept for recycling: its old records may carry
    // indexes above this run's, so it is not written over (journal.h).
    if (name.ends_with(".log.free")) {
      rocksdb::IOStatus d = fs.DeleteFile(options_.dir + "/" + name, rocksdb::IOOptions(), nullptr);
      if (!d.ok()) return d;
    }
  }
  std::sort(numbers.begin(), numbers.end());
  if (!numbers.empty()) next_number_ = numbers.back() + 1;

  auto log = spdlog::get("storage");
  bool have_index = false;  // next_index_ holds the index the next record must have
  std::string data;
  for (std::size_t f = 0; f < numbers.size(); ++f) {
    const std::string path = PathOf(numbers[f]);
    if (rocksdb::Status r = ReadWholeFile(path, &data); !r.ok()) return r;
    std::size_t pos = 0;
    uint64_t records = 0;
    bool hole = false;
    bool old_record = false;  // the records of this use of a recycled file end here
    while (data.size() - pos >= kHeaderBytes) {
      const char* h = data.data() + pos;
      codec::Reader header(std::string_view(h, kHeaderBytes));
      const uint32_t crc = header.Fixed32();
      const uint32_t length = header.Fixed32();
      const uint64_t index = header.Fixed64();
      if (length == 0 || data.size() - pos - kHeaderBytes < length) break;  // zeros or torn
      std::string_view payload(h + kHeaderBytes, length);
      const uint32_t head_crc = crc32c::Extend(0, h + 4, kHeaderBytes - 4);
      if (crc32c::Extend(head_crc, payload.data(), payload.size()) != crc) break;
      if (have_index && index != next_index_) {
        // After this file's first record, an index below the next one is
        // an old record of a recycled file, from before its first block was
        // zeroed: the end of this use's records, not a hole.
        old_record = records > 0 && index < next_index_;
        hole = !old_record;
        break;
      }
      if (rocksdb::Status a = apply(payload); !a.ok()) return a;
      have_index = true;
      next_index_ = index + 1;
      ++records;
      pos += kHeaderBytes + length;
    }
    if (hole) {
      // Records before this point replayed; none from here on may, or they
      // would follow a hole. The files are kept for a person to look at.
      if (log) {
        log->error("journal: record {} is missing before {} (byte {}); the records from there on "
                   "are set aside as *.damaged",
                   next_index_, path, pos);
      }
      for (std::size_t g = f; g < numbers.size(); ++g) {
        const std::string p = PathOf(numbers[g]);
        rocksdb::IOStatus m = fs.RenameFile(p, p + ".damaged", rocksdb::IOOptions(), nullptr);
        if (!m.ok()) return m;
      }
      *set_aside = true;
      break;
    }
    if (pos < data.size() && !old_record && log) {
      const bool zeros = std::all_of(data.begin() + static_cast<std::ptrdiff_t>(pos), data.end(),
                                     [](char c) { return c == 0; });
      if (!zeros) log->warn("journal: {} ends with {} bytes that are no whole record (a torn write)",
                            path, data.size() - pos);
    }
    File file;
    file.number = numbers[f];
    file.bytes = data.size();
    file.pending = records > 0;
    files_.push_back(file);
    AddBytes(static_cast<int64_t>(file.bytes));
  }
  return rocksdb::Status::OK();
}

rocksdb::Status Journal::OpenNewFile() {
  const uint64_t number = next_number_++;
  rocksdb::FileOptions file_options;
  rocksdb::IOStatus s;
  if (free_number_ != 0) {
    const std::string free_path = FreePathOf(free_number_);
    s = options_.fs->ReuseWritableFile(PathOf(number), free_path, file_options, &current_, nullptr);
    AddBytes(-static_cast<int64_t>(free_bytes_));
    free_number_ = 0;
    if (!s.ok()) {
      if (auto log = spdlog::get("storage")) log->warn("journal: recycling {}: {}", free_path, s.ToString());
      options_.fs->DeleteFile(free_path, rocksdb::IOOptions(), nullptr).PermitUncheckedError();
      current_.reset();
    }
  }
  if (!current_) s = options_.fs->NewWritableFile(PathOf(number), file_options, &current_, nullptr);
  // The new name must survive a crash before any record in it is acknowledged.
  if (s.ok()) s = dir_->Fsync(rocksdb::IOOptions(), nullptr);
  if (!s.ok()) {
    current_.reset();
    return s;
  }
  File file;
  file.number = number;
  file.recyclable = true;
  files_.push_back(file);
  return rocksdb::Status::OK();
}

bool Journal::MakeFree(const File& file) {
  const std::string path = PathOf(file.number);
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  static const std::string kZeros(4096, '\0');  // the first block of any device
  ssize_t w;
  do {
    w = ::pwrite(fd, kZeros.data(), kZeros.size(), 0);
  } while (w < 0 && errno == EINTR);
  bool ok = w == static_cast<ssize_t>(kZeros.size()) && ::fdatasync(fd) == 0;
  ::close(fd);
  // Renamed only once the zeros are durable: whichever name a crash leaves
  // it under, the file replays as empty.
  ok = ok && options_.fs->RenameFile(path, FreePathOf(file.number), rocksdb::IOOptions(), nullptr).ok();
  if (ok) dir_->Fsync(rocksdb::IOOptions(), nullptr).PermitUncheckedError();
  return ok;
}

rocksdb::Status Journal::WriteRecord(std::string_view record) {
  rocksdb::IOOptions io;
  const std::string header = EncodeHeader(record, next_index_);
  if (record.size() <= kCopyLimit) {
    scratch_.assign(header);
    scratch_.append(record);
    return current_->Append(rocksdb::Slice(scratch_), io, nullptr);
  }
  rocksdb::IOStatus s = current_->Append(rocksdb::Slice(header), io, nullptr);
  if (s.ok()) s = current_->Append(rocksdb::Slice(record.data(), record.size()), io, nullptr);
  return s;
}

rocksdb::Status Journal::Append(std::string_view record) {
  last_record_open_ = false;
  // A full file is closed here rather than after its last record, so that
  // Discard can still take that record back.
  if (current_ && files_.back().bytes >= options_.file_bytes) CloseCurrent();
  if (!current_) {
    if (rocksdb::Status s = OpenNewFile(); !s.ok()) return s;
  }
  File& file = files_.back();
  rocksdb::Status s = WriteRecord(record);
  if (!s.ok()) {
    // Part of the record may be in the file; nothing may follow it there.
    CloseCurrent();
    return s;
  }
  last_record_start_ = file.bytes;
  last_record_open_ = true;
  file.bytes += kHeaderBytes + record.size();
  file.pending = true;
  AddBytes(static_cast<int64_t>(kHeaderBytes + record.size()));
  ++next_index_;
  return s;
}

rocksdb::Status Journal::Sync() {
  if (!current_) return rocksdb::Status::OK();  // closed files were synced as they closed
  return current_->Sync(rocksdb::IOOptions(), nullptr);
}

void Journal::Discard() {
  if (!last_record_open_ || !current_) return;
  last_record_open_ = false;
  File& file = files_.back();
  rocksdb::IOOptions io;
  rocksdb::IOStatus s = current_->Truncate(last_record_start_, io, nullptr);
  if (s.ok()) {
    AddBytes(-static_cast<int64_t>(file.bytes - last_record_start_));
    file.bytes = last_record_start_;
    --next_index_;  // the next record takes its place
  } else if (auto log = spdlog::get("storage")) {
    log->error("journal: could not take back a record the database refused ({}); a restart may "
               "apply it",
               s.ToString());
  }
  // The discarded record's index is given again: nothing more in this file
  // (closing syncs the cut).
  CloseCurrent();
}

void Journal::Covered(uint64_t sequence) {
  for (File& file : files_) {
    if (file.pending) {
      file.covered_sequence = sequence;
      file.pending = false;
    }
  }
}

void Journal::Retire(uint64_t flushed_sequence) {
  while (!files_.empty()) {
    const File& file = files_.front();
    if (file.pending || file.covered_sequence > flushed_sequence) return;
    const bool idle = current_ && files_.size() == 1;
    if (idle) {
      if (file.bytes == 0) return;
      // Every record of the current file is flushed (the database went idle
      // and flushed): close it, so that its space comes back now and not
      // after the next file fills; the next record starts a new one.
      CloseCurrent();
    }
    if (!idle && options_.recycle && file.recyclable && free_number_ == 0 && MakeFree(file)) {
      free_number_ = file.number;
      free_bytes_ = std::max<uint64_t>(file.bytes, 4096);  // still on the disk
      AddBytes(static_cast<int64_t>(free_bytes_) - static_cast<int64_t>(file.bytes));
      files_.pop_front();
      continue;
    }
    rocksdb::IOStatus s = options_.fs->DeleteFile(PathOf(file.number), rocksdb::IOOptions(), nullptr);
    if (!s.ok() && !s.IsNotFound()) {
      if (auto log = spdlog::get("storage")) log->warn("journal: {}", s.ToString());
      return;
    }
    AddBytes(-static_cast<int64_t>(file.bytes));
    files_.pop_front();
  }
  // Nothing left to replay: the database went idle and flushed. A file kept
  // for recycling goes too, so that the disk space comes back (retention's
  // promise); the next burst starts on new, prezeroed files.
  if (free_number_ != 0) {
    rocksdb::IOStatus s = options_.fs->DeleteFile(FreePathOf(free_number_), rocksdb::IOOptions(), nullptr);
    if (!s.ok() && !s.IsNotFound()) {
      if (auto log = spdlog::get("storage")) log->warn("journal: {}", s.ToString());
      return;
    }
    AddBytes(-static_cast<int64_t>(free_bytes_));
    free_number_ = 0;
  }
}

rocksdb::Status Journal::Close() { return CloseCurrent(); }

rocksdb::Status Journal::CloseCurrent() {
  last_record_open_ = false;
  if (!current_) return rocksdb::Status::OK();
  rocksdb::IOOptions io;
  rocksdb::IOStatus s = current_->Sync(io, nullptr);
  if (s.ok()) s = current_->Close(io, nullptr);
  if (!s.ok()) {
    if (auto log = spdlog::get("storage")) log->warn("journal: closing a file: {}", s.ToString());
  }
  current_.reset();
  return s;
}

}  // namespace herald::broker
