#include "broker/storage/legacy_journal.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "broker/storage/crc32c.h"
#include "broker/storage/segment_file_names.h"
#include "broker/storage/varint.h"

namespace herald::broker {

namespace {

constexpr std::size_t kHeaderBytes = 16;
constexpr uint32_t kBatchRecordMagic = 0x48424154;

// The WriteBatch of a record's payload; empty if the payload is corrupt. A
// plain WriteBatch starts with its sequence number, zeros until applied.
std::string_view WriteBatchOf(std::string_view payload) {
  codec::Reader in(payload);
  if (in.Fixed32() != kBatchRecordMagic || !in.ok()) return payload;
  const uint32_t batch_bytes = in.Fixed32();
  if (!in.ok() || payload.size() - 8 < batch_bytes) return {};
  return payload.substr(8 + batch_bytes);
}

std::string PathOf(const std::string& dir, uint64_t number, const char* suffix) {
  return dir + "/" + segment_files::NameOf(number) + suffix;
}

bool ReadWholeFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return !in.bad();
}

}  // namespace

rocksdb::Status ImportLegacyJournal(const std::string& dir,
                                    const std::function<rocksdb::Status(std::string_view)>& apply,
                                    const std::function<rocksdb::Status()>& make_durable) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return rocksdb::Status::OK();
  std::vector<uint64_t> logs;
  uint64_t newest_segment = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    std::string_view suffix;
    const uint64_t number = segment_files::NumberOf(name, &suffix);
    if (number == 0) continue;
    if (suffix == std::string(segment_files::kLegacy) + segment_files::kFree) {
      std::filesystem::remove(entry.path(), ec);
    } else if (suffix == segment_files::kLegacy) {
      logs.push_back(number);
    } else if (suffix == segment_files::kSegment) {
      newest_segment = std::max(newest_segment, number);
    }
  }
  if (ec) return rocksdb::Status::IOError("list " + dir, ec.message());
  if (logs.empty()) return rocksdb::Status::OK();
  std::sort(logs.begin(), logs.end());
  auto log = spdlog::get("storage");

  uint64_t next_index = 0;  // 0: none seen yet
  std::string data;
  for (std::size_t f = 0; f < logs.size(); ++f) {
    if (logs[f] < newest_segment) continue;  // flushed; only its rename was lost
    const std::string path = PathOf(dir, logs[f], segment_files::kLegacy);
    if (!ReadWholeFile(path, &data)) return rocksdb::Status::IOError("read " + path);
    std::size_t pos = 0;
    uint64_t records = 0;
    bool hole = false;
    while (data.size() - pos >= kHeaderBytes) {
      const char* h = data.data() + pos;
      codec::Reader header(std::string_view(h, kHeaderBytes));
      const uint32_t crc = header.Fixed32();
      const uint32_t length = header.Fixed32();
      const uint64_t index = header.Fixed64();
      if (length == 0 || data.size() - pos - kHeaderBytes < length) break;  // zeros, or a torn write
      const std::string_view payload(h + kHeaderBytes, length);
      if (crc32c::Extend(crc32c::Extend(0, h + 4, kHeaderBytes - 4), payload.data(), payload.size()) != crc) break;
      if (next_index != 0 && index != next_index) {
        // Below the next index after this file's first record: an old record
        // of a recycled file, the end of this use of it. Otherwise a hole.
        hole = !(records > 0 && index < next_index);
        break;
      }
      const std::string_view write_batch = WriteBatchOf(payload);
      if (write_batch.empty()) return rocksdb::Status::Corruption("journal record with a bad batch prefix in " + path);
      if (rocksdb::Status a = apply(write_batch); !a.ok()) return a;
      next_index = index + 1;
      ++records;
      pos += kHeaderBytes + length;
    }
    if (hole) {
      if (log) log->error("journal: record {} is missing before {}; the files from there on are set aside as *.damaged",
                          next_index, path);
      for (std::size_t g = f; g < logs.size(); ++g) {
        const std::string p = PathOf(dir, logs[g], segment_files::kLegacy);
        std::filesystem::rename(p, p + segment_files::kDamaged, ec);
        if (ec) return rocksdb::Status::IOError("rename " + p, ec.message());
      }
      logs.resize(f);
      break;
    }
  }
  if (rocksdb::Status durable = make_durable(); !durable.ok()) return durable;
  for (uint64_t number : logs) {
    std::filesystem::rename(PathOf(dir, number, segment_files::kLegacy), PathOf(dir, number, segment_files::kSegment), ec);
    if (ec) return rocksdb::Status::IOError("rename a journal file in " + dir, ec.message());
  }
  if (int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); fd >= 0) {  // the renames, durable
    ::fsync(fd);
    ::close(fd);
  }
  if (log) log->info("journal: {} files of an older release's journal replayed and kept as segments", logs.size());
  return rocksdb::Status::OK();
}

}  // namespace herald::broker
