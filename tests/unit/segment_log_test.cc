#include "broker/storage/segment_log.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <rocksdb/file_system.h>

#include <catch2/catch.hpp>

#include "broker/logging.h"
#include "broker/storage/crc32c.h"
#include "broker/storage/legacy_journal.h"
#include "broker/storage/varint.h"
#include "tests/support/temp_dir.h"

using namespace herald::broker;
namespace fs = std::filesystem;

namespace {

SegmentLogOptions Options(const herald::test::TempDir& dir, uint64_t file_bytes = 1u << 20, bool recycle = false) {
  SegmentLogOptions options;
  options.dir = dir / "journal";
  options.fs = rocksdb::FileSystem::Default();
  options.file_bytes = file_bytes;
  options.recycle = recycle;
  return options;
}

std::unique_ptr<SegmentLog> OpenLog(const SegmentLogOptions& options) {
  EnsureLoggers();
  std::unique_ptr<SegmentLog> log;
  REQUIRE(SegmentLog::Open(options, &log).ok());
  return log;
}

std::string Batch(int i, std::size_t size) {
  std::string b = "batch-" + std::to_string(i) + "-";
  b.resize(std::max(size, b.size()), static_cast<char>('a' + i % 26));
  return b;
}

// Appends `bytes` and returns the location a store would index for it.
BatchLocation Append(SegmentLog& log, const std::string& bytes) {
  log.writer.AssertHeld();
  SegmentPosition at;
  REQUIRE(log.Append(bytes, &at).ok());
  BatchLocation l;
  l.file = at.file;
  l.offset = at.offset;
  l.length = static_cast<uint32_t>(bytes.size());
  l.crc = crc32c::Value(bytes);
  l.count = 1;
  return l;
}

std::string ReadBack(const SegmentLog& log, const BatchLocation& l) {
  std::string out;
  rocksdb::Status s = log.Read(l, &out);
  INFO(s.ToString());
  REQUIRE(s.ok());
  return out;
}

std::vector<fs::path> Files(const herald::test::TempDir& dir, const std::string& ext = ".seg") {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir / "journal"))
    if (e.path().extension() == ext) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<uint64_t> Numbers(const std::vector<SegmentLog::RetiredFile>& retired) {
  std::vector<uint64_t> numbers;
  for (const auto& r : retired) numbers.push_back(r.number);
  return numbers;
}

uint64_t BlocksOnDisk(const fs::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return static_cast<uint64_t>(st.st_blocks) * 512;
}

}  // namespace

TEST_CASE("segment log: batches read back where Append put them, across files and a reopen", "[unit][segment_log]") {
  herald::test::TempDir dir;
  std::vector<std::pair<BatchLocation, std::string>> written;
  {
    auto log = OpenLog(Options(dir, 64u << 10));
    log->writer.AssertHeld();  // this thread is its writer
    for (int i = 0; i < 40; ++i) {
      std::string b = Batch(i, 5000);
      written.emplace_back(Append(*log, b), b);
    }
    REQUIRE(log->Sync().ok());
    CHECK(written.front().first.file != written.back().first.file);  // 200 KB over 64 KiB files
    for (const auto& [l, b] : written) CHECK(ReadBack(*log, l) == b);
    CHECK(log->bytes() == 40u * 5000);
  }
  auto log = OpenLog(Options(dir, 64u << 10));
  log->writer.AssertHeld();  // this thread is its writer
  CHECK(log->newest_file() == written.back().first.file);
  for (const auto& [l, b] : written) CHECK(ReadBack(*log, l) == b);
  // A run never writes after the previous run's bytes: a new file.
  BatchLocation next = Append(*log, "next");
  CHECK(next.file > written.back().first.file);
  CHECK(next.offset == 0);
}

TEST_CASE("segment log: a read checks the batch's CRC and its bounds", "[unit][segment_log]") {
  herald::test::TempDir dir;
  auto log = OpenLog(Options(dir));
  log->writer.AssertHeld();  // this thread is its writer
  BatchLocation l = Append(*log, Batch(1, 300));
  REQUIRE(log->Sync().ok());
  std::string out;
  BatchLocation wrong_crc = l;
  wrong_crc.crc ^= 1;
  CHECK(log->Read(wrong_crc, &out).IsCorruption());
  BatchLocation past_end = l;
  past_end.offset = 200;
  CHECK(log->Read(past_end, &out).IsCorruption());
  BatchLocation missing = l;
  missing.file = 99;
  CHECK(log->Read(missing, &out).IsNotFound());
}

TEST_CASE("segment log: after a crash that tore the last write, earlier batches read and the torn one fails",
          "[unit][segment_log]") {
  herald::test::TempDir dir;
  BatchLocation whole, torn;
  {
    auto log = OpenLog(Options(dir));
    log->writer.AssertHeld();  // this thread is its writer
    whole = Append(*log, Batch(1, 1000));
    torn = Append(*log, Batch(2, 1000));
    REQUIRE(log->Close().ok());
  }
  // What a crash during the second write leaves: half of it.
  fs::resize_file(Files(dir).back(), torn.offset + 500);
  auto log = OpenLog(Options(dir));
  log->writer.AssertHeld();  // this thread is its writer
  CHECK(log->FileSize(torn.file) == torn.offset + 500);
  CHECK(ReadBack(*log, whole) == Batch(1, 1000));
  std::string out;
  CHECK(log->Read(torn, &out).IsCorruption());
  // Writes go on in a new file, never after the torn bytes.
  BatchLocation after = Append(*log, Batch(3, 1000));
  CHECK(after.file > torn.file);
  CHECK(ReadBack(*log, after) == Batch(3, 1000));
}

TEST_CASE("segment log: a file goes once every topic noted in it has moved its start past it",
          "[unit][segment_log]") {
  herald::test::TempDir dir;
  auto log = OpenLog(Options(dir, 8u << 10));
  log->writer.AssertHeld();  // this thread is its writer
  // Topic 1 in files 1-3, topic 2 in file 2 only.
  std::vector<BatchLocation> t1;
  for (int i = 0; i < 6; ++i) {
    t1.push_back(Append(*log, Batch(i, 4096)));
    log->NoteTopic(t1.back().file, 1, static_cast<uint64_t>(i) + 1);
    if (i == 2) {
      BatchLocation b = Append(*log, Batch(100, 100));
      log->NoteTopic(b.file, 2, 1);
    }
  }
  REQUIRE(log->FileNumbers() == std::vector<uint64_t>{1, 2, 3});
  uint64_t start1 = 0, start2 = 0;
  auto earliest = [&](uint64_t topic) { return topic == 1 ? start1 : start2; };
  CHECK(log->Retire(earliest).empty());

  start1 = 4;  // topic 1's batches in files 1 and 2 are gone; topic 2 keeps file 2
  CHECK(Numbers(log->Retire(earliest)) == std::vector<uint64_t>{1});
  CHECK(Files(dir).size() == 2);
  start2 = 1;
  CHECK(Numbers(log->Retire(earliest)) == std::vector<uint64_t>{2});
  CHECK(ReadBack(*log, t1[5]) == Batch(5, 4096));
  std::string out;
  CHECK(log->Read(t1[0], &out).IsNotFound());

  // The file being written goes too once all of it is dead; the next write
  // starts a new one.
  start1 = SegmentLog::kTopicGone;
  CHECK(Numbers(log->Retire(earliest)) == std::vector<uint64_t>{3});
  CHECK(Files(dir).empty());
  CHECK(log->bytes() == 0);
  CHECK(Append(*log, "x").file == 4);
}

TEST_CASE("segment log: files nobody noted a topic for go at the next retire", "[unit][segment_log]") {
  herald::test::TempDir dir;
  {
    auto log = OpenLog(Options(dir));
    log->writer.AssertHeld();  // this thread is its writer
    Append(*log, Batch(1, 100));  // a write the index never took (the database refused it)
  }
  auto log = OpenLog(Options(dir));
  log->writer.AssertHeld();  // this thread is its writer
  CHECK(log->FileNumbers() == std::vector<uint64_t>{1, 2});  // 2: this run's, still empty
  CHECK(Numbers(log->Retire([](uint64_t) { return uint64_t{0}; })) == std::vector<uint64_t>{1});
  CHECK(Files(dir).size() == 1);
}

TEST_CASE("segment log: removed batches inside a kept file become holes", "[unit][segment_log]") {
  herald::test::TempDir dir;
  auto log = OpenLog(Options(dir, 1u << 20));
  log->writer.AssertHeld();  // this thread is its writer
  std::vector<BatchLocation> batches;
  for (int i = 0; i < 64; ++i) {
    batches.push_back(Append(*log, Batch(i, 16u << 10)));
    log->NoteTopic(batches.back().file, 1, static_cast<uint64_t>(i) + 1);
  }
  REQUIRE(log->Close().ok());  // punched once it is no longer written
  const fs::path file = Files(dir).front();
  const uint64_t before = BlocksOnDisk(file);
  for (int i = 0; i < 48; ++i) log->Release(batches[i].file, batches[i].offset, batches[i].length);
  CHECK(log->Retire([](uint64_t) { return uint64_t{48}; }).empty());
  const uint64_t after = BlocksOnDisk(file);
  if (after == before) WARN("no holes on this file system");
  if (after < before) {
    CHECK(before - after >= (48u * (16u << 10)) - 8192);  // the adjacent batches' blocks go together
    CHECK(log->bytes() == 64u * (16u << 10) - (before - after));
  }
  CHECK(fs::file_size(file) == 64u * (16u << 10));
  for (int i = 48; i < 64; ++i) CHECK(ReadBack(*log, batches[i]) == Batch(i, 16u << 10));
}

TEST_CASE("segment log: with recycling, a deleted file is written again as the next one", "[unit][segment_log]") {
  herald::test::TempDir dir;
  auto log = OpenLog(Options(dir, 8u << 10, /*recycle=*/true));
  log->writer.AssertHeld();  // this thread is its writer
  uint64_t start = 0;
  auto earliest = [&](uint64_t) { return start; };
  BatchLocation first = Append(*log, Batch(1, 9000));  // fills file 1
  log->NoteTopic(first.file, 1, 1);
  BatchLocation second = Append(*log, Batch(2, 8200));  // fills file 2
  log->NoteTopic(second.file, 1, 2);
  start = 1;
  CHECK(Numbers(log->Retire(earliest)) == std::vector<uint64_t>{1});
  REQUIRE(Files(dir, ".free").size() == 1);
  CHECK(Files(dir).size() == 1);

  BatchLocation third = Append(*log, Batch(3, 9000));  // file 2 is full: file 3, over the free one
  CHECK(third.file == 3);
  CHECK(Files(dir, ".free").empty());
  CHECK(ReadBack(*log, third) == Batch(3, 9000));
  CHECK(ReadBack(*log, second) == Batch(2, 8200));

  // Every batch gone: nothing is written, and the free file goes as well.
  start = SegmentLog::kTopicGone;
  log->NoteTopic(third.file, 1, 3);
  CHECK(log->Retire(earliest).size() == 2);
  CHECK(Files(dir).empty());
  CHECK(Files(dir, ".free").empty());
  CHECK(log->bytes() == 0);
}

TEST_CASE("segment log: an older release's journal is replayed once, then kept as segments",
          "[unit][segment_log]") {
  herald::test::TempDir dir;
  fs::create_directories(dir / "journal");
  // Records as the journal wrote them: crc32c | length | index | payload.
  auto record = [](uint64_t index, const std::string& payload) {
    std::string tail;
    codec::PutFixed32(&tail, static_cast<uint32_t>(payload.size()));
    codec::PutFixed64(&tail, index);
    std::string r;
    codec::PutFixed32(&r, crc32c::Extend(crc32c::Value(tail), payload.data(), payload.size()));
    return r + tail + payload;
  };
  const std::string wb1(12, '\0'), wb2 = std::string(12, '\0') + "x";
  std::string with_batches;
  codec::PutFixed32(&with_batches, 0x48424154);
  codec::PutFixed32(&with_batches, 5);
  with_batches += "BATCH" + wb2;
  {
    std::ofstream(dir / "journal/00000000000000000003.log", std::ios::binary)
        << record(7, wb1) << record(8, with_batches) << std::string(100, '\0');
    std::ofstream(dir / "journal/00000000000000000002.seg", std::ios::binary) << "old segment";
    std::ofstream(dir / "journal/00000000000000000001.log", std::ios::binary) << record(1, "stale");
  }
  std::vector<std::string> applied;
  bool durable = false;
  auto apply = [&](std::string_view wb) {
    applied.emplace_back(wb);
    return rocksdb::Status::OK();
  };
  REQUIRE(ImportLegacyJournal(dir / "journal", apply, [&] {
            durable = true;
            return rocksdb::Status::OK();
          }).ok());
  // File 1 is below a segment: flushed already, renamed without a replay.
  CHECK(applied == std::vector<std::string>{wb1, wb2});
  CHECK(durable);
  CHECK(Files(dir, ".log").empty());
  CHECK(Files(dir).size() == 3);
  // Once imported, nothing is replayed again.
  applied.clear();
  REQUIRE(ImportLegacyJournal(dir / "journal", apply, [] { return rocksdb::Status::OK(); }).ok());
  CHECK(applied.empty());
  // The segment log reads the batch where the old location points.
  auto log = OpenLog(Options(dir));
  log->writer.AssertHeld();  // this thread is its writer
  BatchLocation l;
  l.file = 3;
  l.offset = record(7, wb1).size() + 16 + 8;
  l.length = 5;
  l.crc = crc32c::Value("BATCH");
  l.count = 1;
  CHECK(ReadBack(*log, l) == "BATCH");
}
