#include "broker/storage/journal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <rocksdb/file_system.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "broker/storage/crc32c.h"
#include "schemas/durable_dir.h"
#include "broker/storage/varint.h"

namespace herald::broker {

namespace {

constexpr std::size_t kHeaderBytes = Journal::kRecordHeaderBytes;  // crc32c, length, index
// A record up to this size is copied behind its header and written at once;
// a larger one goes out as two writes rather than one more copy of megabytes.
constexpr std::size_t kCopyLimit = 256u << 10;
constexpr const char* kSuffix = ".log";
constexpr const char* kSegmentSuffix = ".seg";
constexpr std::size_t kDigits = 20;

std::size_t TotalSize(std::span<const std::string_view> pieces) {
  std::size_t n = 0;
  for (std::string_view p : pieces) n += p.size();
  return n;
}

// The header of the record made of `pieces`, as record number `index`: its
// CRC covers the length, the index and the payload.
std::string EncodeHeader(std::span<const std::string_view> pieces, uint64_t index) {
  std::string tail;
  codec::PutFixed32(&tail, static_cast<uint32_t>(TotalSize(pieces)));
  codec::PutFixed64(&tail, index);
  uint32_t crc = crc32c::Value(tail);
  for (std::string_view p : pieces) crc = crc32c::Extend(crc, p.data(), p.size());
  std::string header;
  codec::PutFixed32(&header, crc);
  return header + tail;
}

// The number of a journal file's name ("00000000000000000042.log", and the
// same with .seg, .log.free or .log.damaged), or 0; *suffix: what follows it.
uint64_t NumberOf(const std::string& name, std::string_view* suffix) {
  if (name.size() <= kDigits) return 0;
  uint64_t n = 0;
  for (std::size_t i = 0; i < kDigits; ++i) {
    if (name[i] < '0' || name[i] > '9') return 0;
    n = n * 10 + static_cast<uint64_t>(name[i] - '0');
  }
  *suffix = std::string_view(name).substr(kDigits);
  return n;
}

std::string NameOf(uint64_t number) {
  std::string digits = std::to_string(number);
  return std::string(kDigits - std::min<std::size_t>(kDigits, digits.size()), '0') + digits;
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

std::string Journal::PathOf(uint64_t number) const { return options_.dir + "/" + NameOf(number) + kSuffix; }

std::string Journal::SegmentPathOf(uint64_t number) const {
  return options_.dir + "/" + NameOf(number) + kSegmentSuffix;
}

std::vector<std::string> Journal::PathsOf(const std::string& dir, uint64_t number) {
  const std::string base = dir + "/" + NameOf(number);
  return {base + kSuffix, base + kSegmentSuffix, base + kSuffix + ".damaged"};
}

uint64_t Journal::replay_bytes() const {
  uint64_t n = 0;
  for (const File& f : files_)
    if (!f.segment) n += f.bytes;
  return n;
}

std::vector<uint64_t> Journal::FileNumbers() const {
  std::vector<uint64_t> out;
  for (const File& f : files_) out.push_back(f.number);
  return out;
}

void Journal::AddBytes(int64_t delta) {
  bytes_.store(static_cast<uint64_t>(static_cast<int64_t>(bytes()) + delta), std::memory_order_relaxed);
}

rocksdb::Status Journal::Open(JournalOptions options, const Apply& apply, bool* set_aside,
                              std::unique_ptr<Journal>* out) {
  std::unique_ptr<Journal> journal(new Journal(std::move(options)));
  rocksdb::FileSystem& fs = *journal->options_.fs;
  // Durably: the journal's files are lost with a directory entry a power cut forgot.
  rocksdb::IOStatus s;
  if (int err = CreateDirectoriesDurably(journal->options_.dir))
    s = rocksdb::IOStatus::IOError("cannot create " + journal->options_.dir, std::strerror(err));
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
    std::string_view suffix;
    const uint64_t n = NumberOf(name, &suffix);
    if (n == 0) continue;
    next_number_ = std::max(next_number_, n + 1);  // any suffix: a number is never given twice
    if (suffix == kSuffix) numbers.push_back(n);
    if (suffix == kSegmentSuffix) {
      File segment;
      segment.number = n;
      segment.segment = true;
      struct stat st {};
      if (::stat((options_.dir + "/" + name).c_str(), &st) != 0) {
        return rocksdb::Status::IOError("stat " + name, std::strerror(errno));
      }
      segment.bytes = static_cast<uint64_t>(st.st_size);
      // Holes punched in an earlier run (Punch) count as given back.
      segment.punched = segment.bytes - std::min(segment.bytes, static_cast<uint64_t>(st.st_blocks) * 512);
      files_.push_back(segment);
      AddBytes(static_cast<int64_t>(segment.bytes - segment.punched));
    }
    // An earlier run's file kept for recycling: its old records may carry
    // indexes above this run's, so it is not written over (journal.h).
    if (suffix == std::string_view(".log.free")) {
      rocksdb::IOStatus d = fs.DeleteFile(options_.dir + "/" + name, rocksdb::IOOptions(), nullptr);
      if (!d.ok()) return d;
    }
  }
  std::sort(numbers.begin(), numbers.end());
  // Segments are made oldest first: a replayed file below the newest segment
  // was flushed, and only its rename was lost. Replaying it would put its old
  // values over newer flushed ones, and its records would not join the next
  // replayed file's (a hole): it becomes the segment it was.
  if (!files_.empty()) {  // only segments so far
    const uint64_t newest_segment =
        std::max_element(files_.begin(), files_.end(), [](const File& a, const File& b) { return a.number < b.number; })
            ->number;
    while (!numbers.empty() && numbers.front() < newest_segment) {
      File file;
      file.number = numbers.front();
      rocksdb::IOStatus sized = fs.GetFileSize(PathOf(file.number), rocksdb::IOOptions(), &file.bytes, nullptr);
      if (!sized.ok() || !MakeSegment(file)) {
        return rocksdb::Status::IOError("journal: cannot make " + PathOf(file.number) + " the segment it was");
      }
      files_.push_back(file);
      AddBytes(static_cast<int64_t>(file.bytes));
      numbers.erase(numbers.begin());
    }
  }

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
  // Oldest first: the segments (listed in directory order), then the files
  // replayed.
  std::sort(files_.begin(), files_.end(), [](const File& a, const File& b) { return a.number < b.number; });
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
  current_number_.store(number, std::memory_order_release);
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

rocksdb::Status Journal::WriteRecord(std::span<const std::string_view> pieces) {
  rocksdb::IOOptions io;
  const std::string header = EncodeHeader(pieces, next_index_);
  if (TotalSize(pieces) <= kCopyLimit) {
    scratch_.assign(header);
    for (std::string_view p : pieces) scratch_.append(p);
    return current_->Append(rocksdb::Slice(scratch_), io, nullptr);
  }
  rocksdb::IOStatus s = current_->Append(rocksdb::Slice(header), io, nullptr);
  for (std::string_view p : pieces) {
    if (!s.ok()) break;
    if (!p.empty()) s = current_->Append(rocksdb::Slice(p.data(), p.size()), io, nullptr);
  }
  return s;
}

rocksdb::Status Journal::Prepare(Position* next) {
  // A full file is closed here rather than after its last record, so that
  // Discard can still take that record back.
  if (current_ && files_.back().bytes >= options_.file_bytes) CloseCurrent();
  if (!current_) {
    if (rocksdb::Status s = OpenNewFile(); !s.ok()) return s;
  }
  next->file = files_.back().number;
  next->offset = files_.back().bytes + kHeaderBytes;
  return rocksdb::Status::OK();
}

rocksdb::Status Journal::AppendFramed(std::string* framed, const Position* expect) {
  return Append({}, expect, framed);
}

rocksdb::Status Journal::Append(std::span<const std::string_view> pieces, const Position* expect) {
  return Append(pieces, expect, nullptr);
}

rocksdb::Status Journal::Append(std::span<const std::string_view> pieces, const Position* expect,
                                std::string* framed) {
  last_record_open_ = false;
  const std::string_view framed_payload =
      framed ? std::string_view(*framed).substr(kHeaderBytes) : std::string_view();
  if (framed) pieces = {&framed_payload, 1};
  // The header holds the length in 32 bits: a longer record is refused, never wrapped.
  if (TotalSize(pieces) > kMaxRecordBytes) {
    return rocksdb::Status::InvalidArgument(
        "journal: a record of " + std::to_string(TotalSize(pieces)) + " bytes is above the limit of " +
        std::to_string(kMaxRecordBytes));
  }
  Position at;
  if (rocksdb::Status s = Prepare(&at); !s.ok()) return s;
  if (expect && !(at == *expect)) {
    return rocksdb::Status::Aborted("journal: the record would not start where it was prepared");
  }
  File& file = files_.back();
  rocksdb::Status s;
  if (framed) {
    framed->replace(0, kHeaderBytes, EncodeHeader(pieces, next_index_));
    s = current_->Append(rocksdb::Slice(*framed), rocksdb::IOOptions(), nullptr);
  } else {
    s = WriteRecord(pieces);
  }
  if (!s.ok()) {
    // Part of the record may be in the file; nothing may follow it there.
    CloseCurrent();
    return s;
  }
  const std::size_t size = kHeaderBytes + TotalSize(pieces);
  last_record_start_ = file.bytes;
  last_record_open_ = true;
  file.bytes += size;
  file.pending = true;
  AddBytes(static_cast<int64_t>(size));
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

bool Journal::Punch(uint64_t number, uint64_t offset, uint64_t length) {
  auto it = std::find_if(files_.begin(), files_.end(), [&](const File& f) { return f.number == number; });
  if (it == files_.end()) return true;  // gone already
  if (!it->segment) return false;
  constexpr uint64_t kBlock = 4096;
  const uint64_t first = (offset + kBlock - 1) / kBlock * kBlock;
  const uint64_t last = (offset + length) / kBlock * kBlock;
  if (last <= first) return true;
  int fd = ::open(SegmentPathOf(number).c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return true;
  const bool ok = ::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(first),
                              static_cast<off_t>(last - first)) == 0;
  ::close(fd);
  // A file system without holes keeps the blocks until the whole file goes.
  if (ok) {
    it->punched += last - first;
    AddBytes(-static_cast<int64_t>(last - first));
  }
  return true;
}

bool Journal::MakeSegment(File& file) {
  const std::string path = PathOf(file.number);
  if (!options_.fs->RenameFile(path, SegmentPathOf(file.number), rocksdb::IOOptions(), nullptr).ok()) {
    return false;
  }
  // Synced, so that no later rename or deletion is on the disk without it
  // (Replay also mends a lost one: a .log below the newest .seg).
  dir_->Fsync(rocksdb::IOOptions(), nullptr).PermitUncheckedError();
  file.segment = true;
  return true;
}

bool Journal::Remove(const File& file, bool may_recycle) {
  if (may_recycle && !file.segment && options_.recycle && file.recyclable && free_number_ == 0 &&
      MakeFree(file)) {
    free_number_ = file.number;
    free_bytes_ = std::max<uint64_t>(file.bytes, 4096);  // still on the disk
    AddBytes(static_cast<int64_t>(free_bytes_) - static_cast<int64_t>(file.bytes));
    return true;
  }
  const std::string path = file.segment ? SegmentPathOf(file.number) : PathOf(file.number);
  rocksdb::IOStatus s = options_.fs->DeleteFile(path, rocksdb::IOOptions(), nullptr);
  if (!s.ok() && !s.IsNotFound()) {
    if (auto log = spdlog::get("storage")) log->warn("journal: {}", s.ToString());
    return false;
  }
  AddBytes(-static_cast<int64_t>(file.bytes - file.punched));
  return true;
}

void Journal::Retire(uint64_t flushed_sequence, const std::function<bool(uint64_t)>& holds_live,
                     const std::function<void(uint64_t)>& removed) {
  auto live = [&](uint64_t number) { return holds_live && holds_live(number); };
  for (auto it = files_.begin(); it != files_.end();) {
    File& file = *it;
    if (!file.segment) {
      // Replayed files are in order: none after one not flushed is flushed.
      if (file.pending || file.covered_sequence > flushed_sequence) break;
      const bool idle = current_ && std::next(it) == files_.end();
      if (idle) {
        if (file.bytes == 0) break;
        // Every record of the current file is flushed (the database went
        // idle and flushed): close it, so that its space comes back now and
        // not after the next file fills; the next record starts a new one.
        CloseCurrent();
      }
      if (live(file.number)) {
        if (!MakeSegment(file)) break;
        ++it;
        continue;
      }
      if (!Remove(file, /*may_recycle=*/!idle)) break;
    } else {
      if (live(file.number)) {
        ++it;
        continue;
      }
      if (!Remove(file, /*may_recycle=*/false)) {
        ++it;
        continue;
      }
    }
    const uint64_t number = file.number;
    it = files_.erase(it);
    if (removed) removed(number);
  }
  // Nothing left to replay: the database went idle and flushed. A file kept
  // for recycling goes too, so that the disk space comes back (retention's
  // promise); the next burst starts on new, prezeroed files.
  const bool replays_nothing =
      std::all_of(files_.begin(), files_.end(), [](const File& f) { return f.segment; });
  if (replays_nothing && free_number_ != 0) {
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
  current_number_.store(0, std::memory_order_release);
  return s;
}

}  // namespace herald::broker
