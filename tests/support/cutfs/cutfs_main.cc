// herald-cutfs: a FUSE file system that forgets what was not synced.
//
//   herald-cutfs REAL_DIR GRAVEYARD_DIR MOUNTPOINT
//
// Every operation goes through to REAL_DIR at once; UnsyncedLedger keeps how
// to take back what no fsync/fdatasync (files) or directory fsync (names) made
// durable. Commands, one per line on stdin, each answered by one line on
// stdout ("ok ..." or "error ..."):
//   cut [drop|torn|reorder] [SEED]  power cut: take back everything unsynced
//                                   (torn/reorder: let some unsynced overwrites through);
//                                   every later operation fails with EIO until unmounted
//   fail-sync SUBSTRING             the next fsync of a file whose path contains it fails with EIO
//   fail-write SUBSTRING|off        every write to such a file fails with EIO, until "fail-write off"
//                                   (a one-shot would often hit a helper thread's write, such as
//                                   the zeroing ahead of a log, rather than the one under test)
//   enospc on|off                   every write, fallocate and create fails with ENOSPC
//   stats                           pending file changes and names
// "ready" is printed once the file system is mounted. It serves until
// unmounted (fusermount3 -u MOUNTPOINT). A test tool: built with the tests only.
//
// The kernel caches nothing (direct_io, zero timeouts), so that after a cut
// a new mount shows exactly what is on REAL_DIR.

#define FUSE_USE_VERSION 35
#include <fuse3/fuse.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>

#include "tests/support/cutfs/unsynced_ledger.h"

namespace herald::cutfs {
namespace {

struct Faults {
  std::string fail_sync;   // substring of the path whose next sync fails; empty: none
  std::string fail_write;  // substring of the path whose writes fail, until cleared; empty: none
  bool enospc = false;
  bool power_off = false;  // after a cut: nothing more reaches the disk
};

struct State {
  std::mutex mu;  // every operation and command, one at a time
  UnsyncedLedger* ledger = nullptr;
  Faults faults;
};

State g;

std::string Real(const char* path) { return g.ledger->RealPath(path); }

// Takes a one-shot fault if `path` matches it.
bool Take(std::string& fault, const char* path) {
  if (fault.empty() || path == nullptr || std::strstr(path, fault.c_str()) == nullptr) return false;
  fault.clear();
  return true;
}

int Errno() { return -errno; }

void* Init(fuse_conn_info*, fuse_config* cfg) {
  cfg->use_ino = 1;
  cfg->hard_remove = 1;  // an unlink is an unlink, not a rename to .fuse_hidden
  cfg->direct_io = 1;    // no page cache: every read and write reaches us
  cfg->entry_timeout = 0;
  cfg->attr_timeout = 0;
  cfg->negative_timeout = 0;
  std::printf("ready\n");
  std::fflush(stdout);
  return nullptr;
}

int GetAttr(const char* path, struct stat* st, fuse_file_info* fi) {
  std::lock_guard lock(g.mu);
  if (fi != nullptr) return ::fstat(static_cast<int>(fi->fh), st) == 0 ? 0 : Errno();
  return ::lstat(Real(path).c_str(), st) == 0 ? 0 : Errno();
}

int Access(const char* path, int mask) {
  std::lock_guard lock(g.mu);
  return ::access(Real(path).c_str(), mask) == 0 ? 0 : Errno();
}

int ReadDir(const char* path, void* buf, fuse_fill_dir_t fill, off_t, fuse_file_info*, fuse_readdir_flags) {
  std::lock_guard lock(g.mu);
  DIR* d = ::opendir(Real(path).c_str());
  if (d == nullptr) return Errno();
  while (dirent* e = ::readdir(d)) {
    struct stat st {};
    st.st_ino = e->d_ino;
    st.st_mode = static_cast<mode_t>(e->d_type) << 12;
    if (fill(buf, e->d_name, &st, 0, static_cast<fuse_fill_dir_flags>(0)) != 0) break;
  }
  ::closedir(d);
  return 0;
}

int MkDir(const char* path, mode_t mode) {
  std::lock_guard lock(g.mu);
  if (g.faults.power_off) return -EIO;
  if (g.faults.enospc) return -ENOSPC;
  if (::mkdir(Real(path).c_str(), mode) != 0) return Errno();
  g.ledger->Created(path);
  return 0;
}

int RmDir(const char* path) {
  std::lock_guard lock(g.mu);
  if (g.faults.power_off) return -EIO;
  return g.ledger->Rmdir(path);
}

int Unlink(const char* path) {
  std::lock_guard lock(g.mu);
  if (g.faults.power_off) return -EIO;
  return g.ledger->Unlink(path);
}

int Rename(const char* from, const char* to, unsigned int flags) {
  std::lock_guard lock(g.mu);
  if (g.faults.power_off) return -EIO;
  if (flags & RENAME_EXCHANGE) return -EINVAL;
  if ((flags & RENAME_NOREPLACE) && ::access(Real(to).c_str(), F_OK) == 0) return -EEXIST;
  return g.ledger->Rename(from, to);
}

// Truncating on open is a change like any other: recorded before it is made.
void RecordTruncateOnOpen(const std::string& real) {
  int probe = ::open(real.c_str(), O_RDONLY | O_CLOEXEC);
  if (probe < 0) return;
  g.ledger->RecordResize(probe, 0);
  ::close(probe);
}

int Create(const char* path, mode_t mode, fuse_file_info* fi) {
  std::lock_guard lock(g.mu);
  if (g.faults.power_off) return -EIO;
  if (g.faults.enospc) return -ENOSPC;
  const std::string real = Real(path);
  const bool existed = ::access(real.c_str(), F_OK) == 0;
  if (existed && (fi->flags & O_TRUNC)) RecordTruncateOnOpen(real);
  // O_DIRECT is the kernel's business on this side: we run without a page cache.
  int fd = ::open(real.c_str(), (fi->flags & ~O_DIRECT) | O_CREAT | O_CLOEXEC, mode);
  if (fd < 0) return Errno();
  if (!existed) g.ledger->Created(path);
  fi->fh = static_cast<uint64_t>(fd);
  return 0;
}

int Open(const char* path, fuse_file_info* fi) {
  std::lock_guard lock(g.mu);
  if (g.faults.power_off) return -EIO;
  const std::string real = Real(path);
  int flags = fi->flags & ~O_DIRECT;
  if (flags & O_TRUNC) RecordTruncateOnOpen(real);
  int fd = ::open(real.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return Errno();
  fi->fh = static_cast<uint64_t>(fd);
  return 0;
}

int Read(const char*, char* buf, size_t size, off_t offset, fuse_file_info* fi) {
  std::lock_guard lock(g.mu);
  if (g.faults.power_off) return -EIO;
  ssize_t n = ::pread(static_cast<int>(fi->fh), buf, size, offset);
  return n < 0 ? Errno() : static_cast<int>(n);
}

int Write(const char* path, const char* buf, size_t size, off_t offset, fuse_file_info* fi) {
  std::lock_guard lock(g.mu);
  if (g.faults.power_off) return -EIO;
  if (g.faults.enospc) return -ENOSPC;
  if (!g.faults.fail_write.empty() && path != nullptr && std::strstr(path, g.faults.fail_write.c_str()) != nullptr)
    return -EIO;
  const int fd = static_cast<int>(fi->fh);
  g.ledger->RecordWrite(fd, static_cast<uint64_t>(offset), buf, size);
  ssize_t n = ::pwrite(fd, buf, size, offset);
  return n < 0 ? Errno() : static_cast<int>(n);
}

int Truncate(const char* path, off_t size, fuse_file_info* fi) {
  std::lock_guard lock(g.mu);
  if (g.faults.power_off) return -EIO;
  int fd = fi != nullptr ? static_cast<int>(fi->fh) : ::open(Real(path).c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return Errno();
  g.ledger->RecordResize(fd, static_cast<uint64_t>(size));
  int rc = ::ftruncate(fd, size) == 0 ? 0 : Errno();
  if (fi == nullptr) ::close(fd);
  return rc;
}

int Fallocate(const char* path, int mode, off_t offset, off_t length, fuse_file_info* fi) {
  std::lock_guard lock(g.mu);
  (void)path;
  if (g.faults.power_off) return -EIO;
  if (g.faults.enospc && !(mode & FALLOC_FL_PUNCH_HOLE)) return -ENOSPC;
  const int fd = static_cast<int>(fi->fh);
  g.ledger->RecordRangeChange(fd, static_cast<uint64_t>(offset), static_cast<uint64_t>(length));
  return ::fallocate(fd, mode, offset, length) == 0 ? 0 : Errno();
}

int Fsync(const char* path, int, fuse_file_info* fi) {
  std::lock_guard lock(g.mu);
  if (g.faults.power_off) return -EIO;
  const int fd = static_cast<int>(fi->fh);
  if (Take(g.faults.fail_sync, path)) {
    g.ledger->FileSyncFailed(fd);
    return -EIO;
  }
  // The real file's own durability does not matter: the ledger is the disk.
  g.ledger->FileSynced(fd);
  return 0;
}

int FsyncDir(const char* path, int, fuse_file_info*) {
  std::lock_guard lock(g.mu);
  if (g.faults.power_off) return -EIO;
  if (path == nullptr) return -EIO;
  g.ledger->DirectorySynced(path);
  return 0;
}

int OpenDir(const char*, fuse_file_info*) { return 0; }

int Flush(const char*, fuse_file_info*) { return 0; }

int Release(const char*, fuse_file_info* fi) {
  std::lock_guard lock(g.mu);
  ::close(static_cast<int>(fi->fh));
  return 0;
}

int StatFs(const char*, struct statvfs* st) {
  std::lock_guard lock(g.mu);
  return ::statvfs(g.ledger->root().c_str(), st) == 0 ? 0 : Errno();
}

int Chmod(const char* path, mode_t mode, fuse_file_info*) {
  std::lock_guard lock(g.mu);
  return ::chmod(Real(path).c_str(), mode) == 0 ? 0 : Errno();
}

int Utimens(const char* path, const timespec tv[2], fuse_file_info* fi) {
  std::lock_guard lock(g.mu);
  if (fi != nullptr) return ::futimens(static_cast<int>(fi->fh), tv) == 0 ? 0 : Errno();
  return ::utimensat(AT_FDCWD, Real(path).c_str(), tv, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : Errno();
}

std::string RunCommand(const std::string& line) {
  std::istringstream in(line);
  std::string verb, arg;
  in >> verb >> arg;
  std::lock_guard lock(g.mu);
  if (g.ledger == nullptr) return "error: unmounted";
  if (verb == "cut") {
    CutMode mode = arg == "torn" ? CutMode::kTorn : arg == "reorder" ? CutMode::kReorder : CutMode::kDropAll;
    uint64_t seed = 0;
    in >> seed;
    CutReport r = g.ledger->Cut(mode, seed);
    g.faults = Faults{};
    g.faults.power_off = true;
    std::ostringstream out;
    out << "ok dropped=" << r.writes_dropped << " kept=" << r.writes_kept << " names=" << r.names_undone
        << " failures=" << r.undo_failures;
    return out.str();
  }
  if (verb == "fail-sync" && !arg.empty()) return g.faults.fail_sync = arg, "ok";
  if (verb == "fail-write" && !arg.empty()) return g.faults.fail_write = arg == "off" ? "" : arg, "ok";
  if (verb == "enospc" && (arg == "on" || arg == "off")) return g.faults.enospc = arg == "on", "ok";
  if (verb == "stats") {
    return "ok files=" + std::to_string(g.ledger->pending_file_changes()) +
           " names=" + std::to_string(g.ledger->pending_names());
  }
  return "error unknown command: " + line;
}

}  // namespace
}  // namespace herald::cutfs

int main(int argc, char** argv) {
  using namespace herald::cutfs;
  if (argc != 4) {
    std::fprintf(stderr, "usage: herald-cutfs REAL_DIR GRAVEYARD_DIR MOUNTPOINT\n");
    return 2;
  }
  char real_path[PATH_MAX], graveyard_path[PATH_MAX];
  if (::realpath(argv[1], real_path) == nullptr || ::realpath(argv[2], graveyard_path) == nullptr) {
    std::fprintf(stderr, "herald-cutfs: %s or %s: %s\n", argv[1], argv[2], std::strerror(errno));
    return 2;
  }
  UnsyncedLedger ledger(real_path, graveyard_path);
  g.ledger = &ledger;

  fuse_operations ops{};
  ops.init = Init;
  ops.getattr = GetAttr;
  ops.access = Access;
  ops.readdir = ReadDir;
  ops.mkdir = MkDir;
  ops.rmdir = RmDir;
  ops.unlink = Unlink;
  ops.rename = Rename;
  ops.create = Create;
  ops.open = Open;
  ops.read = Read;
  ops.write = Write;
  ops.truncate = Truncate;
  ops.fallocate = Fallocate;
  ops.fsync = Fsync;
  ops.fsyncdir = FsyncDir;
  ops.opendir = OpenDir;
  ops.flush = Flush;
  ops.release = Release;
  ops.statfs = StatFs;
  ops.chmod = Chmod;
  ops.utimens = Utimens;

  std::thread commands([] {
    std::string line;
    while (std::getline(std::cin, line)) {
      std::string reply = RunCommand(line);
      std::printf("%s\n", reply.c_str());
      std::fflush(stdout);
    }
  });
  commands.detach();  // stdin may stay open past the unmount; the process exits with main

  // Foreground, one thread: operations reach the ledger in the order the kernel sent them.
  char* fuse_argv[] = {argv[0], argv[3], const_cast<char*>("-f"), const_cast<char*>("-s"),
                       const_cast<char*>("-o"), const_cast<char*>("fsname=herald-cutfs,default_permissions")};
  const int rc = fuse_main(6, fuse_argv, &ops, nullptr);
  // The command thread may still be reading stdin: from here on it finds no
  // ledger, and the ledger goes after the last command that used it.
  std::lock_guard lock(g.mu);
  g.ledger = nullptr;
  return rc;
}
