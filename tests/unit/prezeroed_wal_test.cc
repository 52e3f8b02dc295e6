#include "broker/storage/prezeroed_wal.h"

#include <fcntl.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <random>
#include <thread>

#include "broker/logging.h"
#include "broker/storage/record_batch.h"
#include "broker/storage/store.h"
#include "tests/support/temp_dir.h"

using namespace herald::broker;
namespace fs = std::filesystem;

namespace {

// tmpfs and a few others refuse O_DIRECT; the file system then hands out
// RocksDB's own WAL files, and there are no zeros to look for.
bool DirectIoWorks(const std::string& dir) {
  std::string probe = dir + "/direct-probe";
  int fd = ::open(probe.c_str(), O_RDWR | O_CREAT | O_DIRECT, 0644);
  if (fd >= 0) ::close(fd);
  ::unlink(probe.c_str());
  return fd >= 0;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string RandomBytes(std::mt19937& rng, std::size_t n) {
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(1 + rng() % 255);  // no zero bytes: zeros are the padding
  return s;
}

// Polls (at most 5 s) until the file at path is at least bytes long.
bool WaitForSize(const std::string& path, uint64_t bytes) {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  std::error_code ec;
  while (std::chrono::steady_clock::now() < until) {
    if (fs::file_size(path, ec) >= bytes && !ec) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

// The log file (".log": RocksDB's WAL, ".seg": a segment file) in dir.
std::string LogFileIn(const std::string& dir, const std::string& ext) {
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ext) return e.path().string();
  return {};
}

}  // namespace

TEST_CASE(
    "prezeroed WAL: a closed file holds exactly the bytes appended, at any sizes and alignments") {
  herald::test::TempDir dir;
  auto wal_fs = NewPrezeroedWalFileSystem(rocksdb::FileSystem::Default(),
                                          {.lead_bytes = 256u << 10, .piece_bytes = 16u << 10});
  const std::string path = dir / "000007.log";
  std::unique_ptr<rocksdb::FSWritableFile> file;
  REQUIRE(wal_fs->NewWritableFile(path, rocksdb::FileOptions(), &file, nullptr).ok());

  std::mt19937 rng(7);
  std::string expected;
  const std::size_t sizes[] = {1, 7, 4089, 4096, 4097, 100, 70'000, 3, 32'768, 12'345, 600'000, 200'000};
  for (int round = 0; round < 60; ++round) {
    std::string chunk = RandomBytes(rng, sizes[round % std::size(sizes)] + rng() % 64);
    REQUIRE(file->Append(chunk, rocksdb::IOOptions(), nullptr).ok());
    expected += chunk;
    if (round % 3 == 0) REQUIRE(file->Sync(rocksdb::IOOptions(), nullptr).ok());
    REQUIRE(file->GetFileSize(rocksdb::IOOptions(), nullptr) == expected.size());
    // What a reader sees meanwhile (the journal's reader, through the page
    // cache): large appends are buffered, small ones direct, over the same
    // blocks.
    if (round % 10 == 9) CHECK(ReadFile(path).substr(0, expected.size()) == expected);
  }
  // Cut back into the middle of a block, then go on from there.
  const uint64_t cut = expected.size() - 5'000;
  REQUIRE(file->Truncate(cut, rocksdb::IOOptions(), nullptr).ok());
  expected.resize(cut);
  std::string after = RandomBytes(rng, 9'000);
  REQUIRE(file->Append(after, rocksdb::IOOptions(), nullptr).ok());
  expected += after;
  REQUIRE(file->Close(rocksdb::IOOptions(), nullptr).ok());

  std::string on_disk = ReadFile(path);
  REQUIRE(on_disk.size() == expected.size());
  CHECK(on_disk == expected);
}

TEST_CASE(
    "prezeroed WAL: zeros lie ahead of the log's end while the file is open, and Close cuts them") {
  herald::test::TempDir dir;
  if (!DirectIoWorks(dir.str())) {
    WARN("no O_DIRECT in " << dir.str() << ": nothing to check");
    return;
  }
  auto wal_fs = NewPrezeroedWalFileSystem(rocksdb::FileSystem::Default(),
                                          {.lead_bytes = 256u << 10, .piece_bytes = 16u << 10});
  const std::string path = dir / "000012.log";
  std::unique_ptr<rocksdb::FSWritableFile> file;
  REQUIRE(wal_fs->NewWritableFile(path, rocksdb::FileOptions(), &file, nullptr).ok());
  std::mt19937 rng(12);
  std::string record = RandomBytes(rng, 10'000);
  REQUIRE(file->Append(record, rocksdb::IOOptions(), nullptr).ok());
  REQUIRE(file->Sync(rocksdb::IOOptions(), nullptr).ok());

  REQUIRE(WaitForSize(path, record.size() + (256u << 10)));
  std::string on_disk = ReadFile(path);
  CHECK(on_disk.compare(0, record.size(), record) == 0);
  CHECK(on_disk.find_first_not_of('\0', record.size()) == std::string::npos);

  REQUIRE(file->Close(rocksdb::IOOptions(), nullptr).ok());
  CHECK(fs::file_size(path) == record.size());
}

TEST_CASE(
    "prezeroed WAL: a new WAL file starts on the spare made after the last one, and the spare goes "
    "with the file system") {
  herald::test::TempDir dir;
  if (!DirectIoWorks(dir.str())) {
    WARN("no O_DIRECT in " << dir.str() << ": nothing to check");
    return;
  }
  const std::string spare = dir / "herald-wal-spare";
  std::mt19937 rng(21);
  {
    auto wal_fs = NewPrezeroedWalFileSystem(rocksdb::FileSystem::Default(),
                                            {.lead_bytes = 256u << 10, .piece_bytes = 16u << 10});
    std::unique_ptr<rocksdb::FSWritableFile> first, second;
    REQUIRE(
        wal_fs->NewWritableFile(dir / "000001.log", rocksdb::FileOptions(), &first, nullptr).ok());
    REQUIRE(WaitForSize(spare, 256u << 10));

    REQUIRE(
        wal_fs->NewWritableFile(dir / "000002.log", rocksdb::FileOptions(), &second, nullptr).ok());
    // The spare became the new file: its zeros are there before any write.
    CHECK(fs::file_size(dir / "000002.log") >= (256u << 10));
    std::string records = RandomBytes(rng, 5'000);
    REQUIRE(second->Append(records, rocksdb::IOOptions(), nullptr).ok());
    REQUIRE(second->Sync(rocksdb::IOOptions(), nullptr).ok());
    REQUIRE(second->Close(rocksdb::IOOptions(), nullptr).ok());
    CHECK(ReadFile(dir / "000002.log") == records);

    // And the next spare is made for the file after it.
    REQUIRE(WaitForSize(spare, 256u << 10));
    REQUIRE(first->Close(rocksdb::IOOptions(), nullptr).ok());
  }
  CHECK_FALSE(fs::exists(spare));
}

TEST_CASE(
    "prezeroed WAL: a crash image of the store's segment file and WAL, taken with zeros after the last "
    "write, recovers every acknowledged write") {
  EnsureLoggers();
  herald::test::TempDir live, image;
  const bool direct = DirectIoWorks(live.str());
  std::vector<std::string> payloads;
  {
    std::unique_ptr<Store> store;
    REQUIRE(Store::Open({live.str(), FsyncPolicy::kAlways, std::chrono::milliseconds(100)}, &store)
                .ok());
    std::promise<TopicRecord> created;
    store->CreateTopic("t", {}, [&](Status s, TopicRecord r, bool) {
      REQUIRE(s.ok());
      created.set_value(r);
    });
    const uint64_t topic = created.get_future().get().id;

    std::mt19937 rng(3);
    for (int i = 0; i < 300; ++i) {
      // 1 B to 40 KiB: records within, across and beyond 4 KiB direct-I/O blocks.
      std::string payload = RandomBytes(rng, 1 + rng() % (i % 10 == 0 ? 40'000 : 400));
      RecordBatchBuilder b(1, 42, payload.size() + 32);
      b.StartRecord(nullptr, 0);
      b.FinishRecord(payload);
      std::promise<AppendResult> done;
      store->Append({topic, 0, 0, 1, b.Finish()},
                    [&](AppendResult r) { done.set_value(std::move(r)); });
      AppendResult r = done.get_future().get();
      REQUIRE(r.status.ok());
      REQUIRE(r.base_offset == static_cast<uint64_t>(i));
      payloads.push_back(std::move(payload));
    }
    const std::string segment = LogFileIn(live.str() + "/journal", ".seg");
    const std::string wal = LogFileIn(live.str(), ".log");
    REQUIRE(!segment.empty());
    REQUIRE(!wal.empty());
    // The default lead is 1 MiB, more than was written: the files are longer
    // than what was written to them once the zeros are down.
    if (direct) REQUIRE(WaitForSize(segment, 1u << 20));
    if (direct) REQUIRE(WaitForSize(wal, 1u << 20));
    // ... and the spares for the next files are there, which the segment log
    // and RocksDB must ignore.
    if (direct) REQUIRE(WaitForSize(live / "journal/herald-wal-spare", 1u << 20));
    if (direct) REQUIRE(WaitForSize(live / "herald-wal-spare", 1u << 20));
    // What a crash (of the process or the machine) would leave: the live
    // files, copied while the store is open.
    fs::copy(live.path(), image.path(),
             fs::copy_options::recursive | fs::copy_options::overwrite_existing);
    if (direct) CHECK(fs::file_size(image / ("journal/" + fs::path(segment).filename().string())) >= (1u << 20));
    if (direct) CHECK(fs::file_size(image / fs::path(wal).filename().string()) >= (1u << 20));
  }

  std::unique_ptr<Store> recovered;
  REQUIRE(
      Store::Open({image.str(), FsyncPolicy::kAlways, std::chrono::milliseconds(100)}, &recovered)
          .ok());
  auto topics = recovered->Topics();
  REQUIRE(topics.size() == 1);
  REQUIRE(topics[0].next_offset == payloads.size());
  std::vector<std::shared_ptr<const RecordBatch>> batches;
  REQUIRE(recovered->ReadBatches(topics[0].id, 0, ~std::size_t{0}, 1u << 30, &batches).ok());
  std::size_t i = 0;
  for (const auto& b : batches)
    for (uint32_t k = 0; k < b->count(); ++k, ++i) {
      REQUIRE(i < payloads.size());
      CHECK(b->record(k).payload == payloads[i]);
    }
  CHECK(i == payloads.size());
}

TEST_CASE("prezeroed WAL: DB::SyncWAL syncs it (the broker's shutdown sync of unsynced writes)") {
  herald::test::TempDir dir;
  auto env = rocksdb::NewCompositeEnv(NewPrezeroedWalFileSystem(rocksdb::FileSystem::Default()));
  rocksdb::Options options;
  options.create_if_missing = true;
  options.env = env.get();
  rocksdb::DB* raw = nullptr;
  REQUIRE(rocksdb::DB::Open(options, dir.str(), &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  REQUIRE(db->Put(rocksdb::WriteOptions(), "position", "42").ok());  // not synced
  rocksdb::Status s = db->SyncWAL();
  CHECK(s.ok());
  INFO(s.ToString());
  REQUIRE(db->Close().ok());
}
