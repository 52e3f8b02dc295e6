#include "broker/storage/journal.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <rocksdb/file_system.h>

#include <catch2/catch.hpp>

#include "broker/logging.h"
#include "broker/storage/crc32c.h"
#include "broker/storage/prezeroed_wal.h"
#include "tests/support/temp_dir.h"

using namespace herald::broker;
namespace fs = std::filesystem;

namespace {

JournalOptions Options(const herald::test::TempDir& dir, uint64_t file_bytes = 1u << 20) {
  JournalOptions options;
  options.dir = dir / "journal";
  options.fs = rocksdb::FileSystem::Default();
  options.file_bytes = file_bytes;
  return options;
}

// Opens the journal and returns what it replays.
std::vector<std::string> Replay(const JournalOptions& options, std::unique_ptr<Journal>* out,
                                bool* set_aside = nullptr) {
  EnsureLoggers();
  std::vector<std::string> records;
  bool aside = false;
  rocksdb::Status s = Journal::Open(
      options,
      [&](std::string_view r) {
        records.emplace_back(r);
        return rocksdb::Status::OK();
      },
      &aside, out);
  REQUIRE(s.ok());
  if (set_aside) *set_aside = aside;
  return records;
}

std::string Record(int i, std::size_t size) {
  std::string r = "record-" + std::to_string(i) + "-";
  r.resize(std::max(size, r.size()), static_cast<char>('a' + i % 26));
  return r;
}

std::vector<fs::path> JournalFiles(const herald::test::TempDir& dir, const std::string& ext = ".log") {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir / "journal"))
    if (e.path().extension() == ext) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

void Corrupt(const fs::path& file, uint64_t at) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(at));
  char c = 0;
  f.read(&c, 1);
  f.seekp(static_cast<std::streamoff>(at));
  c = static_cast<char>(c ^ 0x5A);
  f.write(&c, 1);
}

}  // namespace

TEST_CASE("crc32c: the Castagnoli check values, and the SSE4.2 path agrees with the table") {
  CHECK(crc32c::Value("123456789") == 0xE3069283u);
  CHECK(crc32c::Value(std::string(32, '\0')) == 0x8A9136AAu);
  CHECK(crc32c::Value(std::string(32, '\xff')) == 0x62A8AB43u);
  std::mt19937 rng(7);
  std::string data(5000, '\0');
  for (char& c : data) c = static_cast<char>(rng());
  for (std::size_t n : {0u, 1u, 7u, 8u, 9u, 63u, 64u, 1000u, 4997u}) {
    for (std::size_t at : {0u, 1u, 3u}) {  // n + at stays within the 5000 bytes
      INFO(n << " bytes at " << at);
      CHECK(crc32c::Extend(0, data.data() + at, n) == crc32c::ExtendPortable(0, data.data() + at, n));
    }
  }
  // Extending in pieces gives the CRC of the whole.
  const uint32_t head = crc32c::Extend(0, data.data(), 1234);
  CHECK(crc32c::Extend(head, data.data() + 1234, 3766) == crc32c::Value(data));
}

TEST_CASE("journal: records come back in order across files, and only those not retired") {
  herald::test::TempDir dir;
  const JournalOptions options = Options(dir, 4096);
  std::vector<std::string> written;
  {
    std::unique_ptr<Journal> journal;
    REQUIRE(Replay(options, &journal).empty());
    std::size_t sizes[] = {1, 100, 3000, 300 << 10, 17};  // one above the copy limit
    for (int i = 0; i < 40; ++i) {
      written.push_back(Record(i, sizes[i % 5]));
      REQUIRE(journal->Append(written.back()).ok());
      journal->Covered(static_cast<uint64_t>(i + 1) * 10);
    }
    REQUIRE(journal->Sync().ok());
    CHECK(JournalFiles(dir).size() > 5);  // 4 KiB files: a new one after each passes that
  }
  std::unique_ptr<Journal> journal;
  CHECK(Replay(options, &journal) == written);

  // The records of the first 20 are flushed (sequence 200): their files go.
  // The replayed files are covered by what their replay was applied up to.
  journal->Covered(400);
  const std::size_t before = JournalFiles(dir).size();
  journal->Retire(200);
  CHECK(JournalFiles(dir).size() == before);  // all were covered at 400, after the replay
  journal->Retire(400);
  CHECK(JournalFiles(dir).empty());
  CHECK(journal->bytes() == 0);
  journal.reset();
  CHECK(Replay(options, &journal).empty());
}

TEST_CASE("journal: a file is retired only when every record in it is flushed") {
  herald::test::TempDir dir;
  const JournalOptions options = Options(dir, 600);
  std::unique_ptr<Journal> journal;
  Replay(options, &journal);
  for (int i = 0; i < 10; ++i) {
    REQUIRE(journal->Append(Record(i, 600)).ok());  // one record fills a file
    journal->Covered(static_cast<uint64_t>(i + 1));
  }
  REQUIRE(JournalFiles(dir).size() == 10);
  journal->Retire(4);  // records 1-4 flushed
  CHECK(JournalFiles(dir).size() == 6);
  // An appended record not yet covered keeps its file whatever is flushed.
  REQUIRE(journal->Append(Record(10, 600)).ok());
  journal->Retire(1000);
  CHECK(JournalFiles(dir).size() == 1);
  journal.reset();
  std::unique_ptr<Journal> reopened;
  CHECK(Replay(options, &reopened) == std::vector<std::string>{Record(10, 600)});
}

TEST_CASE("journal: a torn last record is dropped, and records appended after it replay") {
  herald::test::TempDir dir;
  const JournalOptions options = Options(dir);
  {
    std::unique_ptr<Journal> journal;
    Replay(options, &journal);
    for (int i = 0; i < 3; ++i) REQUIRE(journal->Append(Record(i, 200)).ok());
  }
  // A crash in the middle of the third record's write.
  const fs::path first = JournalFiles(dir).at(0);
  fs::resize_file(first, fs::file_size(first) - 50);
  {
    std::unique_ptr<Journal> journal;
    CHECK(Replay(options, &journal) == std::vector<std::string>{Record(0, 200), Record(1, 200)});
    REQUIRE(journal->Append(Record(3, 200)).ok());  // into a new file
  }
  std::unique_ptr<Journal> journal;
  CHECK(Replay(options, &journal) ==
        std::vector<std::string>{Record(0, 200), Record(1, 200), Record(3, 200)});
}

TEST_CASE("journal: a damaged record ends the replay, and the files after it are set aside") {
  herald::test::TempDir dir;
  const JournalOptions options = Options(dir, 800);
  std::vector<std::string> written;
  {
    std::unique_ptr<Journal> journal;
    Replay(options, &journal);
    for (int i = 0; i < 6; ++i) {
      written.push_back(Record(i, 400));
      REQUIRE(journal->Append(written.back()).ok());  // three files of two records
    }
  }
  auto files = JournalFiles(dir);
  REQUIRE(files.size() == 3);
  Corrupt(files[1], 16 + 400 + 16 + 5);  // the payload of the fourth record

  bool set_aside = false;
  std::unique_ptr<Journal> journal;
  // The fourth record fails its checksum; the fifth would follow a hole.
  CHECK(Replay(options, &journal, &set_aside) ==
        std::vector<std::string>(written.begin(), written.begin() + 3));
  CHECK(set_aside);
  CHECK(JournalFiles(dir, ".damaged").size() == 1);
  // New records continue after the last one replayed, and replay next time.
  REQUIRE(journal->Append("after").ok());
  journal.reset();
  std::vector<std::string> expected(written.begin(), written.begin() + 3);
  expected.push_back("after");
  CHECK(Replay(options, &journal, &set_aside) == expected);
  CHECK_FALSE(set_aside);
}

TEST_CASE("journal: a discarded record is not replayed, and the next record takes its place") {
  herald::test::TempDir dir;
  const JournalOptions options = Options(dir);
  {
    std::unique_ptr<Journal> journal;
    Replay(options, &journal);
    REQUIRE(journal->Append("kept-1").ok());
    REQUIRE(journal->Append("refused").ok());
    journal->Discard();  // the database refused it
    REQUIRE(journal->Append("kept-2").ok());
  }
  std::unique_ptr<Journal> journal;
  CHECK(Replay(options, &journal) == std::vector<std::string>{"kept-1", "kept-2"});
}

TEST_CASE("journal: a record the database refuses at replay fails the open") {
  herald::test::TempDir dir;
  const JournalOptions options = Options(dir);
  {
    std::unique_ptr<Journal> journal;
    Replay(options, &journal);
    REQUIRE(journal->Append("one").ok());
  }
  std::unique_ptr<Journal> journal;
  bool set_aside = false;
  rocksdb::Status s = Journal::Open(
      options, [](std::string_view) { return rocksdb::Status::Corruption("not a batch"); },
      &set_aside, &journal);
  CHECK(s.IsCorruption());
  CHECK_FALSE(journal);
}

// Recycling (journal.h): the prezeroed direct-I/O file system, as with
// --fsync always. Records of 4080 bytes fill one 4 KiB block each with their
// header, so a record of a file's new use can end exactly where an old
// record begins, with no zeros between them.
TEST_CASE("journal: a retired file is written again as the next one, and replays only its new records") {
  herald::test::TempDir dir;
  JournalOptions options = Options(dir, 8192);  // two records per file
  options.fs = NewPrezeroedWalFileSystem(rocksdb::FileSystem::Default());
  options.recycle = true;
  std::unique_ptr<Journal> journal;
  REQUIRE(Replay(options, &journal).empty());
  const auto rec = [](int i) { return Record(i, 4080); };
  uint64_t sequence = 0;
  auto append = [&](int i) {
    REQUIRE(journal->Append(rec(i)).ok());
    journal->Covered(++sequence);
  };
  append(0);
  append(1);  // file 1: records 0 and 1
  append(2);
  append(3);  // file 2: records 2 and 3
  REQUIRE(journal->Sync().ok());
  journal->Retire(2);  // 0 and 1 are flushed: file 1 is kept for the next file
  REQUIRE(JournalFiles(dir).size() == 1);
  const auto free_files = JournalFiles(dir, ".free");
  REQUIRE(free_files.size() == 1);
  {
    std::ifstream in(free_files[0], std::ios::binary);
    std::string head(4096, 'x');
    in.read(head.data(), 4096);
    CHECK(head == std::string(4096, '\0'));  // never replays record 0 again
  }

  // A crash that leaves the free file under a journal name (its rename
  // undone): it replays as empty, after the live records.
  {
    herald::test::TempDir copy;
    fs::copy(dir / "journal", copy / "journal", fs::copy_options::recursive);
    const fs::path copied = copy / "journal";
    fs::rename(copied / free_files[0].filename(), copied / "00000000000000000099.log");
    std::unique_ptr<Journal> replayed;
    bool set_aside = true;
    CHECK(Replay(Options(copy), &replayed, &set_aside) == std::vector<std::string>{rec(2), rec(3)});
    CHECK_FALSE(set_aside);
  }

  append(4);  // file 3, written over file 1: record 4 in its first block, then old record 1
  CHECK(JournalFiles(dir, ".free").empty());
  REQUIRE(JournalFiles(dir).size() == 2);
  CHECK(fs::file_size(JournalFiles(dir).back()) >= 8192);  // file 1's blocks, not a new file
  REQUIRE(journal->Sync().ok());

  // A crash now: the replay takes record 4, then meets old record 1 with a
  // valid checksum and an index below the next one: the end of this use's
  // records, not a hole (which would set files aside).
  herald::test::TempDir copy;
  fs::copy(dir / "journal", copy / "journal", fs::copy_options::recursive);
  std::unique_ptr<Journal> replayed;
  bool set_aside = true;
  CHECK(Replay(Options(copy), &replayed, &set_aside) == std::vector<std::string>{rec(2), rec(3), rec(4)});
  CHECK_FALSE(set_aside);
  CHECK(JournalFiles(copy, ".damaged").empty());
  // The next run does not recycle what an earlier one left free.
  replayed.reset();
  journal->Retire(sequence - 1);  // file 2 is kept free; file 3 still holds record 4
  CHECK(JournalFiles(dir, ".free").size() == 1);
  journal.reset();
  CHECK(JournalFiles(dir, ".free").size() == 1);
  REQUIRE(Replay(options, &journal) == std::vector<std::string>{rec(4)});
  CHECK(JournalFiles(dir, ".free").empty());
  // Once every record is flushed (the database idle), no file is kept free:
  // the disk space comes back.
  journal->Covered(sequence);
  append(5);
  append(6);
  append(7);  // records 5 and 6 fill one file; record 7 starts the next
  journal->Retire(sequence - 1);
  CHECK(JournalFiles(dir, ".free").size() == 1);
  journal->Retire(sequence);
  CHECK(JournalFiles(dir).empty());
  CHECK(JournalFiles(dir, ".free").empty());
  CHECK(journal->bytes() == 0);
}

TEST_CASE("journal: a record in pieces starts where Prepare said, and its bytes can be read back there") {
  herald::test::TempDir dir;
  const JournalOptions options = Options(dir, 4096);
  std::unique_ptr<Journal> journal;
  Replay(options, &journal);
  std::vector<std::pair<JournalPosition, std::string>> placed;
  for (int i = 0; i < 12; ++i) {
    JournalPosition at;
    REQUIRE(journal->Prepare(&at).ok());
    const std::string head = "head-" + std::to_string(i), body = Record(i, 700);
    const std::string_view pieces[] = {head, body};
    REQUIRE(journal->Append(pieces, &at).ok());
    placed.emplace_back(JournalPosition{at.file, at.offset + head.size()}, body);
    journal->Covered(static_cast<uint64_t>(i + 1));
  }
  REQUIRE(journal->Sync().ok());
  // A record may not start anywhere else than prepared.
  JournalPosition wrong;
  REQUIRE(journal->Prepare(&wrong).ok());
  wrong.offset += 1;
  const std::string_view one[] = {"x"};
  CHECK(journal->Append(one, &wrong).IsAborted());
  for (const auto& [at, body] : placed) {
    std::ifstream f(Journal::PathsOf(options.dir, at.file).front(), std::ios::binary);
    REQUIRE(f.good());
    f.seekg(static_cast<std::streamoff>(at.offset));
    std::string got(body.size(), '\0');
    f.read(got.data(), static_cast<std::streamsize>(got.size()));
    CHECK(got == body);
  }
  journal.reset();
  std::vector<std::string> replayed = Replay(options, &journal);
  REQUIRE(replayed.size() == 12);
  CHECK(replayed[3] == "head-3" + Record(3, 700));
}

TEST_CASE("journal: flushed files that hold live batches are kept as segments, not replayed, and punched") {
  herald::test::TempDir dir;
  const JournalOptions options = Options(dir, 16u << 10);
  std::vector<uint64_t> numbers;
  {
    std::unique_ptr<Journal> journal;
    Replay(options, &journal);
    for (int i = 0; i < 40; ++i) {
      REQUIRE(journal->Append(Record(i, 4000)).ok());
      journal->Covered(static_cast<uint64_t>(i + 1));
    }
    numbers = journal->FileNumbers();
    REQUIRE(numbers.size() >= 3);
    // All flushed; the first and the last file hold live batches.
    std::vector<uint64_t> removed;
    auto live = [&](uint64_t n) { return n == numbers.front() || n == numbers.back(); };
    journal->Retire(40, live, [&](uint64_t n) { removed.push_back(n); });
    CHECK(JournalFiles(dir).empty());                 // nothing to replay
    CHECK(JournalFiles(dir, ".seg").size() == 2);    // the current file too, closed
    CHECK(removed.size() == numbers.size() - 2);
    CHECK(journal->replay_bytes() == 0);
    // A segment gives back whole blocks of a dead range; a replayed file never.
    const uint64_t before = journal->bytes();
    CHECK(journal->Punch(numbers.front(), 100, 9000));  // blocks 4096..8191 lie wholly inside
    CHECK(journal->bytes() == before - 4096);
    // A record after them starts a new file, replayed until it is flushed.
    REQUIRE(journal->Append(Record(99, 100)).ok());
    REQUIRE(journal->Sync().ok());
    CHECK_FALSE(journal->Punch(journal->current_file(), 0, 8192));
  }
  std::unique_ptr<Journal> journal;
  CHECK(Replay(options, &journal) == std::vector<std::string>{Record(99, 100)});
  CHECK(journal->FileNumbers().size() == 3);
  journal->Covered(1);
  journal->Retire(1, [&](uint64_t n) { return n == numbers.back(); });
  CHECK(JournalFiles(dir, ".seg").size() == 1);
  CHECK(JournalFiles(dir).empty());
  // Numbers are not given again while any file has them, segments included.
  REQUIRE(journal->Append("next").ok());
  CHECK(journal->current_file() > numbers.back() + 1);
}

TEST_CASE("journal: a lost rename to a segment is mended at open, not replayed over newer state") {
  herald::test::TempDir dir;
  const JournalOptions options = Options(dir, 8u << 10);
  {
    std::unique_ptr<Journal> journal;
    Replay(options, &journal);
    for (int i = 0; i < 12; ++i) {
      REQUIRE(journal->Append(Record(i, 3000)).ok());
      journal->Covered(static_cast<uint64_t>(i + 1));
    }
    journal->Retire(12, [](uint64_t) { return true; });
    REQUIRE(journal->Append(Record(50, 10)).ok());
    REQUIRE(journal->Sync().ok());
  }
  auto segments = JournalFiles(dir, ".seg");
  REQUIRE(segments.size() >= 3);
  // A crash that kept the newer renames but not the first one.
  fs::path first = segments.front();
  fs::rename(first, fs::path(first).replace_extension(".log"));
  std::unique_ptr<Journal> journal;
  bool set_aside = true;
  CHECK(Replay(options, &journal, &set_aside) == std::vector<std::string>{Record(50, 10)});
  CHECK_FALSE(set_aside);
  CHECK(JournalFiles(dir, ".seg").size() == segments.size());
}
