#include "tests/support/cutfs/unsynced_ledger.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace herald::cutfs {

namespace {

constexpr uint64_t kSector = 512;

uint64_t SizeOf(int fd) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

bool WriteAll(int fd, const char* data, std::size_t length, uint64_t offset) {
  while (length > 0) {
    ssize_t n = ::pwrite(fd, data, length, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    length -= static_cast<std::size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return true;
}

}  // namespace

UnsyncedLedger::UnsyncedLedger(std::string root, std::string graveyard)
    : root_(std::move(root)), graveyard_(std::move(graveyard)) {}

UnsyncedLedger::~UnsyncedLedger() {
  for (auto& [ino, f] : files_) ::close(f.fd);
}

std::string UnsyncedLedger::Parent(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
}

UnsyncedLedger::FileLedger* UnsyncedLedger::LedgerOf(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return nullptr;
  FileLedger& f = files_[st.st_ino];
  if (f.fd >= 0) return &f;
  // A descriptor of its own, read-write whatever the caller's is, that
  // reaches the file after it is renamed or unlinked.
  const std::string self = "/proc/self/fd/" + std::to_string(fd);
  f.fd = ::open(self.c_str(), O_RDWR | O_CLOEXEC);
  if (f.fd >= 0) return &f;
  std::fprintf(stderr, "cutfs: cannot reopen descriptor %d to track it: %s\n", fd, std::strerror(errno));
  files_.erase(st.st_ino);
  return nullptr;
}

UnsyncedLedger::FileChange UnsyncedLedger::Capture(FileLedger& f, uint64_t offset, uint64_t length) {
  FileChange c;
  c.offset = offset;
  c.old_size = SizeOf(f.fd);
  if (offset < c.old_size) {
    c.old_bytes.resize(std::min<uint64_t>(length, c.old_size - offset));
    ssize_t n = ::pread(f.fd, c.old_bytes.data(), c.old_bytes.size(), static_cast<off_t>(offset));
    c.old_bytes.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  }
  return c;
}

void UnsyncedLedger::RecordWrite(int fd, uint64_t offset, const char* data, std::size_t length) {
  FileLedger* f = LedgerOf(fd);
  if (!f) return;
  FileChange c = Capture(*f, offset, length);
  c.is_write = true;
  c.new_bytes.assign(data, length);
  f->pending.push_back(std::move(c));
}

void UnsyncedLedger::RecordResize(int fd, uint64_t new_size) {
  FileLedger* f = LedgerOf(fd);
  if (!f) return;
  const uint64_t size = SizeOf(f->fd);
  // Shrinking loses the tail, which the undo writes back; growing adds zeros,
  // which the undo's truncate to the old size removes.
  f->pending.push_back(Capture(*f, std::min(size, new_size), size > new_size ? size - new_size : 0));
}

void UnsyncedLedger::RecordRangeChange(int fd, uint64_t offset, uint64_t length) {
  FileLedger* f = LedgerOf(fd);
  if (f) f->pending.push_back(Capture(*f, offset, length));
}

void UnsyncedLedger::FileSynced(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return;
  auto it = files_.find(st.st_ino);
  if (it == files_.end()) return;
  it->second.pending.clear();
  if (it->second.lost.empty()) {
    ::close(it->second.fd);
    files_.erase(it);
  }
}

void UnsyncedLedger::FileSyncFailed(int fd) {
  FileLedger* f = LedgerOf(fd);
  if (!f) return;
  for (auto& c : f->pending) f->lost.push_back(std::move(c));
  f->pending.clear();
}

void UnsyncedLedger::Created(const std::string& path) {
  struct stat st {};
  const bool is_dir = ::stat(RealPath(path).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  names_.push_back({NameOp::kCreate, path, {}, {}, is_dir});
}

std::string UnsyncedLedger::Park(const std::string& real_path) {
  std::string parked = graveyard_ + "/" + std::to_string(++parked_count_);
  if (::rename(real_path.c_str(), parked.c_str()) != 0) return {};
  return parked;
}

int UnsyncedLedger::Unlink(const std::string& path) {
  std::string parked = Park(RealPath(path));
  if (parked.empty()) return -errno;
  names_.push_back({NameOp::kUnlink, path, {}, parked, false});
  return 0;
}

int UnsyncedLedger::Rmdir(const std::string& path) {
  if (::rmdir(RealPath(path).c_str()) != 0) return -errno;
  names_.push_back({NameOp::kRmdir, path, {}, {}, true});
  return 0;
}

int UnsyncedLedger::Rename(const std::string& from, const std::string& to) {
  NameChange c{NameOp::kRename, from, to, {}, false};
  struct stat st {};
  if (::lstat(RealPath(to).c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) {
    c.parked = Park(RealPath(to));
    if (c.parked.empty()) return -errno;
  }
  if (::rename(RealPath(from).c_str(), RealPath(to).c_str()) != 0) {
    const int err = errno;
    if (!c.parked.empty()) (void)::rename(c.parked.c_str(), RealPath(to).c_str());
    return -err;
  }
  names_.push_back(std::move(c));
  return 0;
}

void UnsyncedLedger::DirectorySynced(const std::string& dir) {
  // A rename is durable with its target's directory; the rest with their own.
  auto durable = [&](const NameChange& c) {
    return Parent(c.op == NameOp::kRename ? c.to : c.path) == dir;
  };
  for (const auto& c : names_)
    if (durable(c) && !c.parked.empty()) ::unlink(c.parked.c_str());
  std::erase_if(names_, durable);
}

bool UnsyncedLedger::Undo(const NameChange& c) {
  const std::string real = RealPath(c.path);
  switch (c.op) {
    case NameOp::kCreate:
      if (c.is_dir) return ::rmdir(real.c_str()) == 0 || !Park(real).empty();
      return !Park(real).empty();
    case NameOp::kUnlink:
      return ::rename(c.parked.c_str(), real.c_str()) == 0;
    case NameOp::kRmdir:
      return ::mkdir(real.c_str(), 0755) == 0;
    case NameOp::kRename: {
      bool ok = ::rename(RealPath(c.to).c_str(), real.c_str()) == 0;
      if (!c.parked.empty()) ok = ::rename(c.parked.c_str(), RealPath(c.to).c_str()) == 0 && ok;
      return ok;
    }
  }
  return false;
}

CutReport UnsyncedLedger::Cut(CutMode mode, uint64_t seed) {
  CutReport report;
  std::mt19937_64 rng(seed);
  for (auto& [ino, f] : files_) {
    std::vector<FileChange> changes = std::move(f.lost);
    for (auto& c : f.pending) changes.push_back(std::move(c));
    // Newest first: each change gives back the bytes and size it found.
    for (auto it = changes.rbegin(); it != changes.rend(); ++it) {
      bool ok = WriteAll(f.fd, it->old_bytes.data(), it->old_bytes.size(), it->offset) &&
                ::ftruncate(f.fd, static_cast<off_t>(it->old_size)) == 0;
      ++report.writes_dropped;
      if (!ok) ++report.undo_failures;
    }
    if (mode != CutMode::kDropAll && !changes.empty()) {
      // Let some unsynced writes through, as a disk that wrote them before
      // the power went would: only overwrites inside the size that survived
      // (a size change needs the sync that did not come).
      const uint64_t durable_size = changes.front().old_size;
      const std::size_t keep_first = std::uniform_int_distribution<std::size_t>(0, changes.size())(rng);
      for (std::size_t i = 0; i < changes.size(); ++i) {
        const FileChange& c = changes[i];
        if (!c.is_write || c.offset >= durable_size) continue;
        std::size_t length = std::min<uint64_t>(c.new_bytes.size(), durable_size - c.offset);
        if (mode == CutMode::kReorder) {
          if (rng() % 2 == 0) continue;
        } else if (i > keep_first) {
          continue;
        } else if (i == keep_first) {
          length = std::min<std::size_t>(length, kSector * (rng() % (length / kSector + 1)));
        }
        if (length == 0) continue;
        if (!WriteAll(f.fd, c.new_bytes.data(), length, c.offset)) ++report.undo_failures;
        ++report.writes_kept;
      }
    }
    ::close(f.fd);
  }
  files_.clear();
  static const char* kOpNames[] = {"create", "unlink", "rmdir", "rename"};
  for (auto it = names_.rbegin(); it != names_.rend(); ++it) {
    ++report.names_undone;
    if (std::getenv("HERALD_CUTFS_VERBOSE") != nullptr)
      std::fprintf(stderr, "cutfs: taking back %s %s%s%s\n", kOpNames[static_cast<int>(it->op)], it->path.c_str(),
                   it->to.empty() ? "" : " -> ", it->to.c_str());
    if (!Undo(*it)) {
      ++report.undo_failures;
      std::fprintf(stderr, "cutfs: could not undo an operation on %s: %s\n", it->path.c_str(), std::strerror(errno));
    }
  }
  names_.clear();
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(graveyard_, ec))
    std::filesystem::remove_all(entry.path(), ec);
  return report;
}

std::size_t UnsyncedLedger::pending_file_changes() const {
  std::size_t n = 0;
  for (const auto& [ino, f] : files_) n += f.pending.size() + f.lost.size();
  return n;
}

}  // namespace herald::cutfs
