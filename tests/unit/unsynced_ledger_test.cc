// UnsyncedLedger, the bookkeeping of herald-cutfs, on a real temp directory
// and without FUSE: the test plays the file system's part, recording each
// change before making it, as cutfs_main.cc does.

#include "tests/support/cutfs/unsynced_ledger.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <string>

#include "tests/support/temp_dir.h"

namespace {

using herald::cutfs::CutMode;
using herald::cutfs::UnsyncedLedger;

struct Tree {
  herald::test::TempDir dir{"herald-ledger"};
  std::string root = dir.str() + "/root";
  std::string graveyard = dir.str() + "/graveyard";
  Tree() {
    std::filesystem::create_directories(root);
    std::filesystem::create_directories(graveyard);
  }
};

std::string Read(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return "<missing>";
  std::string out(1 << 16, '\0');
  ssize_t n = ::pread(fd, out.data(), out.size(), 0);
  ::close(fd);
  out.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  return out;
}

// Creates `path` (relative to the root) and records the create.
int Create(UnsyncedLedger& ledger, const std::string& path) {
  int fd = ::open(ledger.RealPath(path).c_str(), O_CREAT | O_RDWR, 0644);
  REQUIRE(fd >= 0);
  ledger.Created(path);
  return fd;
}

void Write(UnsyncedLedger& ledger, int fd, uint64_t offset, const std::string& data) {
  ledger.RecordWrite(fd, offset, data.data(), data.size());
  REQUIRE(::pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset)) == static_cast<ssize_t>(data.size()));
}

}  // namespace

TEST_CASE("ledger: a cut keeps what was synced and takes back the rest", "[unit][cutfs]") {
  Tree t;
  UnsyncedLedger ledger(t.root, t.graveyard);
  int fd = Create(ledger, "/f");
  ledger.DirectorySynced("/");
  Write(ledger, fd, 0, "synced.");
  ledger.FileSynced(fd);
  Write(ledger, fd, 7, "unsynced tail");
  Write(ledger, fd, 0, "SYNCED");  // an overwrite of synced bytes, itself unsynced
  CHECK(Read(t.root + "/f") == "SYNCED.unsynced tail");
  auto report = ledger.Cut(CutMode::kDropAll, 1);
  ::close(fd);
  CHECK(report.writes_dropped == 2);
  CHECK(report.undo_failures == 0);
  CHECK(Read(t.root + "/f") == "synced.");
}

TEST_CASE("ledger: names are durable only once their directory is synced", "[unit][cutfs]") {
  Tree t;
  UnsyncedLedger ledger(t.root, t.graveyard);
  int kept = Create(ledger, "/kept");
  Write(ledger, kept, 0, "k");
  ledger.FileSynced(kept);
  ledger.DirectorySynced("/");
  int target = Create(ledger, "/target");
  Write(ledger, target, 0, "old target");
  ledger.FileSynced(target);
  int moved = Create(ledger, "/moved");
  ledger.FileSynced(moved);
  ledger.DirectorySynced("/");
  // A file synced but whose directory entry is not: gone after the cut.
  int orphan = Create(ledger, "/orphan");
  Write(ledger, orphan, 0, "o");
  ledger.FileSynced(orphan);
  // An unlink and a rename over an existing file, neither synced: both undone.
  REQUIRE(ledger.Unlink("/kept") == 0);
  REQUIRE(ledger.Rename("/moved", "/target") == 0);
  CHECK(Read(t.root + "/target").empty());
  ledger.Cut(CutMode::kDropAll, 1);
  for (int fd : {kept, orphan, target, moved}) ::close(fd);
  CHECK(Read(t.root + "/kept") == "k");
  CHECK(Read(t.root + "/target") == "old target");
  CHECK(Read(t.root + "/moved").empty());
  CHECK(Read(t.root + "/orphan") == "<missing>");
  CHECK(std::filesystem::is_empty(t.graveyard));
}

TEST_CASE("ledger: a synced directory makes its unlinks final", "[unit][cutfs]") {
  Tree t;
  UnsyncedLedger ledger(t.root, t.graveyard);
  int fd = Create(ledger, "/gone");
  ledger.FileSynced(fd);
  ledger.DirectorySynced("/");
  REQUIRE(ledger.Unlink("/gone") == 0);
  ledger.DirectorySynced("/");
  CHECK(std::filesystem::is_empty(t.graveyard));  // the parked file is deleted for good
  ledger.Cut(CutMode::kDropAll, 1);
  ::close(fd);
  CHECK(Read(t.root + "/gone") == "<missing>");
}

TEST_CASE("ledger: a failed sync's writes stay lost after a later sync succeeds", "[unit][cutfs]") {
  Tree t;
  UnsyncedLedger ledger(t.root, t.graveyard);
  int fd = Create(ledger, "/wal");
  ledger.DirectorySynced("/");
  Write(ledger, fd, 0, "AAAA");
  ledger.FileSynced(fd);
  Write(ledger, fd, 4, "BBBB");
  ledger.FileSyncFailed(fd);  // EIO: the kernel may have dropped these pages
  Write(ledger, fd, 8, "CCCC");
  ledger.FileSynced(fd);      // succeeds, and says nothing about BBBB
  ledger.Cut(CutMode::kDropAll, 1);
  ::close(fd);
  // BBBB is taken back; CCCC was synced, but the size it extended came with
  // BBBB's region, so the file reads as AAAA then a gap of zeros then CCCC.
  const std::string after = Read(t.root + "/wal");
  CHECK(after.substr(0, 4) == "AAAA");
  CHECK(after.find("BBBB") == std::string::npos);
}

TEST_CASE("ledger: torn and reordered cuts let only overwrites inside the durable size through", "[unit][cutfs]") {
  for (CutMode mode : {CutMode::kTorn, CutMode::kReorder}) {
    for (uint64_t seed = 0; seed < 20; ++seed) {
      Tree t;
      UnsyncedLedger ledger(t.root, t.graveyard);
      int fd = Create(ledger, "/f");
      ledger.DirectorySynced("/");
      Write(ledger, fd, 0, std::string(4096, '0'));
      ledger.FileSynced(fd);
      Write(ledger, fd, 0, std::string(1024, 'a'));
      Write(ledger, fd, 1024, std::string(1024, 'b'));
      Write(ledger, fd, 4096, std::string(512, 'z'));  // extends the file: never survives
      auto report = ledger.Cut(mode, seed);
      ::close(fd);
      const std::string after = Read(t.root + "/f");
      REQUIRE(after.size() == 4096);
      CHECK(report.undo_failures == 0);
      // Every 512-byte sector is whole: old or new, never mixed inside.
      for (std::size_t s = 0; s < 4096; s += 512) {
        const std::string sector = after.substr(s, 512);
        CHECK(sector.find_first_not_of(sector[0]) == std::string::npos);
      }
      if (mode == CutMode::kTorn) {
        // A prefix of the writes in order: no 'b' unless all of 'a' made it.
        if (after[1024] == 'b') CHECK(after.substr(0, 1024) == std::string(1024, 'a'));
      }
    }
  }
}
