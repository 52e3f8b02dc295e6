#include "broker/storage/segment_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <rocksdb/file_system.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "broker/storage/crc32c.h"
#include "broker/storage/segment_file_names.h"
#include "schemas/durable_dir.h"

namespace herald::broker {

namespace {

constexpr uint64_t kBlock = 4096;

void Warn(const std::string& what) {
  if (auto log = spdlog::get("storage")) log->warn("segment log: {}", what);
}

}  // namespace

// Read descriptors, opened once and kept (up to a bound). An open file stays
// readable after it is deleted, so a reader needs no lock against the
// writer; a file recycled under a reader fails the CRC check of its read.
class SegmentLog::OpenFiles {
 public:
  explicit OpenFiles(std::string dir) : dir_(std::move(dir)) {}

  struct Descriptor {
    explicit Descriptor(int descriptor) : fd(descriptor) {}
    ~Descriptor() { ::close(fd); }
    const int fd;
  };

  std::shared_ptr<Descriptor> Get(uint64_t file) EXCLUDES(mu_) {
    {
      MutexLock lock(mu_);
      if (auto it = open_.find(file); it != open_.end()) return it->second;
    }
    for (const std::string& path : SegmentLog::PathsOf(dir_, file)) {
      int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) continue;
      auto opened = std::make_shared<Descriptor>(fd);
      MutexLock lock(mu_);
      if (open_.size() >= kMaxOpenFiles) open_.clear();  // readers keep theirs open
      return open_.try_emplace(file, opened).first->second;
    }
    return nullptr;
  }

  void Forget(uint64_t file) EXCLUDES(mu_) {
    MutexLock lock(mu_);
    open_.erase(file);
  }

 private:
  static constexpr std::size_t kMaxOpenFiles = 256;
  const std::string dir_;
  Mutex mu_;
  std::unordered_map<uint64_t, std::shared_ptr<Descriptor>> open_ GUARDED_BY(mu_);
};

SegmentLog::SegmentLog(SegmentLogOptions options)
    : options_(std::move(options)), open_files_(std::make_unique<OpenFiles>(options_.dir)) {}

SegmentLog::~SegmentLog() {
  writer.AssertHeld();  // the owner destroys it once its writer has stopped
  CloseCurrent();
}

std::vector<std::string> SegmentLog::PathsOf(const std::string& dir, uint64_t number) {
  const std::string base = dir + "/" + segment_files::NameOf(number);
  return {base + segment_files::kSegment, base + segment_files::kLegacy,
          base + segment_files::kLegacy + segment_files::kDamaged};
}

std::string SegmentLog::PathOf(uint64_t number) const {
  return options_.dir + "/" + segment_files::NameOf(number) + segment_files::kSegment;
}

std::string SegmentLog::FreePath() const { return PathOf(free_number_) + segment_files::kFree; }

void SegmentLog::AddBytes(int64_t delta) {
  bytes_.fetch_add(static_cast<uint64_t>(delta), std::memory_order_relaxed);  // wraps as a signed add
}

rocksdb::Status SegmentLog::Open(SegmentLogOptions options, std::unique_ptr<SegmentLog>* out) {
  std::unique_ptr<SegmentLog> log(new SegmentLog(std::move(options)));
  log->writer.AssertHeld();  // nothing else has it yet
  rocksdb::FileSystem& fs = *log->options_.fs;
  const std::string& dir = log->options_.dir;
  // Durably: a segment file is lost with a directory entry a power cut forgot.
  rocksdb::IOStatus s;
  if (int err = CreateDirectoriesDurably(dir)) s = rocksdb::IOStatus::IOError("cannot create " + dir, std::strerror(err));
  if (s.ok()) s = fs.NewDirectory(dir, rocksdb::IOOptions(), &log->dir_, nullptr);
  std::vector<std::string> names;
  if (s.ok()) s = fs.GetChildren(dir, rocksdb::IOOptions(), &names, nullptr);
  if (!s.ok()) return s;
  for (const std::string& name : names) {
    std::string_view suffix;
    const uint64_t number = segment_files::NumberOf(name, &suffix);
    if (number == 0) continue;
    log->next_number_ = std::max(log->next_number_, number + 1);
    const bool segment = suffix == segment_files::kSegment;
    const bool legacy = suffix == segment_files::kLegacy;
    if (suffix.ends_with(segment_files::kFree)) {
      // A file kept to be recycled when the previous run stopped: no
      // location points into it.
      fs.DeleteFile(dir + "/" + name, rocksdb::IOOptions(), nullptr).PermitUncheckedError();
      continue;
    }
    if (!segment && !legacy) continue;  // set aside by an older release: kept for a person to look at
    File file;
    file.number = number;
    file.legacy = legacy;
    s = fs.GetFileSize(dir + "/" + name, rocksdb::IOOptions(), &file.bytes, nullptr);
    if (!s.ok()) return s;
    log->AddBytes(static_cast<int64_t>(file.bytes));
    log->newest_at_open_ = std::max(log->newest_at_open_, number);
    log->files_.push_back(std::move(file));
  }
  std::sort(log->files_.begin(), log->files_.end(),
            [](const File& a, const File& b) { return a.number < b.number; });
  // The file the next Append writes, opened now: a broker that later runs
  // out of descriptors (or zeros ahead) still has it. If it cannot be made
  // (a full disk), the first Append tries again.
  if (rocksdb::Status opened = log->OpenNewFile(); !opened.ok()) Warn("no file to write yet: " + opened.ToString());
  *out = std::move(log);
  return rocksdb::Status::OK();
}

rocksdb::Status SegmentLog::OpenNewFile() {
  const uint64_t number = next_number_++;
  rocksdb::FileOptions file_options;
  rocksdb::IOStatus s;
  if (free_number_ != 0) {
    const std::string free_path = FreePath();
    s = options_.fs->ReuseWritableFile(PathOf(number), free_path, file_options, &current_, nullptr);
    AddBytes(-static_cast<int64_t>(free_bytes_));
    free_number_ = 0;
    if (!s.ok()) {
      Warn("recycling " + free_path + ": " + s.ToString());
      options_.fs->DeleteFile(free_path, rocksdb::IOOptions(), nullptr).PermitUncheckedError();
      current_.reset();
    }
  }
  if (!current_) s = options_.fs->NewWritableFile(PathOf(number), file_options, &current_, nullptr);
  // The new name must survive a crash before the index refers to it.
  if (s.ok()) s = dir_->Fsync(rocksdb::IOOptions(), nullptr);
  if (!s.ok()) {
    current_.reset();
    return s;
  }
  File file;
  file.number = number;
  files_.push_back(std::move(file));
  current_number_.store(number, std::memory_order_release);
  return rocksdb::Status::OK();
}

rocksdb::Status SegmentLog::Append(std::string_view bytes, SegmentPosition* at) {
  if (current_ && files_.back().bytes >= options_.file_bytes) {
    // The file's last sync happens here: with --fsync interval what was
    // acknowledged in it rests on this one, so its failure is the append's.
    if (rocksdb::Status closed = CloseCurrent(); !closed.ok()) return closed;
  }
  if (!current_) {
    if (rocksdb::Status s = OpenNewFile(); !s.ok()) return s;
  }
  File& file = files_.back();
  rocksdb::IOStatus s = current_->Append(rocksdb::Slice(bytes.data(), bytes.size()), rocksdb::IOOptions(), nullptr);
  if (!s.ok()) {
    // Part of the write may be in the file; nothing may follow it there.
    CloseCurrent();
    return s;
  }
  at->file = file.number;
  at->offset = file.bytes;
  file.bytes += bytes.size();
  AddBytes(static_cast<int64_t>(bytes.size()));
  return rocksdb::Status::OK();
}

rocksdb::Status SegmentLog::Sync() {
  if (!current_) return rocksdb::Status::OK();  // closed files were synced as they closed
  return current_->Sync(rocksdb::IOOptions(), nullptr);
}

rocksdb::Status SegmentLog::Close() { return CloseCurrent(); }

rocksdb::Status SegmentLog::CloseCurrent() {
  if (!current_) return rocksdb::Status::OK();
  rocksdb::IOOptions io;
  rocksdb::IOStatus s = current_->Sync(io, nullptr);
  if (s.ok()) s = current_->Close(io, nullptr);
  if (!s.ok()) Warn("closing a file: " + s.ToString());
  current_.reset();
  current_number_.store(0, std::memory_order_release);
  return s;
}

int SegmentLog::SyncWritten() const {
  const uint64_t number = current_number_.load(std::memory_order_acquire);
  if (number == 0) return 0;
  int fd = ::open(PathOf(number).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;  // closed (and synced as it closed) and deleted meanwhile
  const int err = SyncFileData(fd);
  ::close(fd);
  return err;
}

SegmentLog::File* SegmentLog::Find(uint64_t number) {
  auto it = std::find_if(files_.begin(), files_.end(), [&](const File& f) { return f.number == number; });
  return it == files_.end() ? nullptr : &*it;
}

void SegmentLog::NoteTopic(uint64_t file, uint64_t topic_id, uint64_t end_offset) {
  if (File* f = Find(file)) {
    uint64_t& end = f->topics[topic_id];
    end = std::max(end, end_offset);
  }
}

void SegmentLog::Release(uint64_t file, uint64_t offset, uint64_t length) {
  auto& ranges = released_[file];
  ranges.emplace_back(offset, length);
  std::sort(ranges.begin(), ranges.end());
  std::size_t kept = 0;
  for (std::size_t i = 1; i < ranges.size(); ++i) {
    auto& last = ranges[kept];
    if (last.first + last.second >= ranges[i].first) {
      last.second = std::max(last.first + last.second, ranges[i].first + ranges[i].second) - last.first;
    } else {
      ranges[++kept] = ranges[i];
    }
  }
  ranges.resize(kept + 1);
}

bool SegmentLog::Live(const File& file, const std::function<uint64_t(uint64_t)>& earliest) const {
  for (const auto& [topic_id, end] : file.topics) {
    const uint64_t start = earliest(topic_id);
    if (start != kTopicGone && start < end) return true;
  }
  return false;
}

bool SegmentLog::Remove(const File& file) {
  const std::string path = file.legacy ? PathsOf(options_.dir, file.number)[1] : PathOf(file.number);
  // Recycled only whole (a write over a hole allocates blocks again), and
  // only when the file being written is near its end, so that the next file
  // takes it soon: else it would hold its space for nothing.
  const bool next_file_soon = current_ && files_.back().number != file.number &&
                              files_.back().bytes >= options_.file_bytes / 4 * 3;
  if (options_.recycle && next_file_soon && !file.legacy && file.punched == 0 && free_number_ == 0) {
    free_number_ = file.number;
    if (options_.fs->RenameFile(path, FreePath(), rocksdb::IOOptions(), nullptr).ok()) {
      free_bytes_ = file.bytes;
      return true;
    }
    free_number_ = 0;
  }
  rocksdb::IOStatus s = options_.fs->DeleteFile(path, rocksdb::IOOptions(), nullptr);
  if (!s.ok() && !s.IsNotFound()) {
    Warn(s.ToString());
    return false;
  }
  AddBytes(-static_cast<int64_t>(file.bytes - file.punched));
  return true;
}

std::vector<SegmentLog::RetiredFile> SegmentLog::Retire(const std::function<uint64_t(uint64_t)>& earliest) {
  std::vector<RetiredFile> removed;
  for (auto it = files_.begin(); it != files_.end();) {
    const bool current = current_ && std::next(it) == files_.end();
    // The current file goes only once it holds something and all of it is
    // dead (every topic in it deleted or moved on); the next write starts a
    // new one.
    if (Live(*it, earliest) || (current && it->bytes == 0)) {
      ++it;
      continue;
    }
    if (current) CloseCurrent();
    if (!Remove(*it)) {
      ++it;
      continue;
    }
    RetiredFile& retired = removed.emplace_back();
    retired.number = it->number;
    for (const auto& [topic_id, end] : it->topics) retired.topics.push_back(topic_id);
    open_files_->Forget(it->number);
    released_.erase(it->number);
    it = files_.erase(it);
  }
  PunchReleased();
  // Nothing is being written: every batch went. The free file goes too, so
  // that the disk space comes back; the next burst starts on new files.
  if (!current_ && free_number_ != 0) {
    rocksdb::IOStatus s = options_.fs->DeleteFile(FreePath(), rocksdb::IOOptions(), nullptr);
    if (s.ok() || s.IsNotFound()) {
      AddBytes(-static_cast<int64_t>(free_bytes_));
      free_number_ = 0;
    } else {
      Warn(s.ToString());
    }
  }
  return removed;
}

void SegmentLog::PunchReleased() {
  // The file being written too: a released batch lies wholly below its end,
  // and only whole blocks inside the batch go, never the partly written last
  // one.
  for (auto it = released_.begin(); it != released_.end();) {
    File* file = Find(it->first);
    int fd = file ? ::open(SegmentLog::PathsOf(options_.dir, file->number)[file->legacy ? 1 : 0].c_str(),
                           O_WRONLY | O_CLOEXEC)
                  : -1;
    for (const auto& [offset, length] : it->second) {
      const uint64_t first = (offset + kBlock - 1) / kBlock * kBlock;
      const uint64_t last = (offset + length) / kBlock * kBlock;
      if (fd < 0 || last <= first) continue;
      // A file system without holes keeps the blocks until the whole file goes.
      if (::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(first),
                      static_cast<off_t>(last - first)) == 0) {
        file->punched += last - first;
        AddBytes(-static_cast<int64_t>(last - first));
      }
    }
    if (fd >= 0) ::close(fd);
    it = released_.erase(it);
  }
}

std::vector<uint64_t> SegmentLog::FileNumbers() const {
  std::vector<uint64_t> out;
  for (const File& f : files_) out.push_back(f.number);
  return out;
}

uint64_t SegmentLog::FileSize(uint64_t number) const {
  for (const std::string& path : PathsOf(options_.dir, number)) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) return static_cast<uint64_t>(st.st_size);
  }
  return 0;
}

rocksdb::Status SegmentLog::Read(const BatchLocation& location, std::string* out) const {
  std::shared_ptr<OpenFiles::Descriptor> file = open_files_->Get(location.file);
  if (!file) return rocksdb::Status::NotFound("segment file " + std::to_string(location.file));
  out->resize(location.length);
  std::size_t done = 0;
  while (done < location.length) {
    ssize_t r = ::pread(file->fd, out->data() + done, location.length - done,
                        static_cast<off_t>(location.offset + done));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return rocksdb::Status::IOError("read segment file", std::strerror(errno));
    if (r == 0) return rocksdb::Status::Corruption("segment file ends before the batch");
    done += static_cast<std::size_t>(r);
  }
  if (crc32c::Value(*out) != location.crc) {
    return rocksdb::Status::Corruption("batch checksum mismatch in segment file " + std::to_string(location.file));
  }
  return rocksdb::Status::OK();
}

}  // namespace herald::broker
