#pragma once
// JournalReader: reads stored batches out of the journal files that hold
// them (batch_location.h), for groups that read behind the tail cache.
//
// Thread: any. Files are opened once and kept open (up to a bound); an open
// file stays readable after the journal renames it (NNN.log to NNN.seg) or
// deletes it, so a reader needs no lock against the storage thread. A file
// deleted or recycled under a reader fails its read (not found, or a CRC
// that does not match): the caller then checks whether retention removed
// the batch meanwhile (store_log_index.cc).

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include <rocksdb/status.h>

#include "broker/storage/batch_location.h"

namespace herald::broker {

class JournalReader {
 public:
  explicit JournalReader(std::string dir) : dir_(std::move(dir)) {}

  // The batch's bytes, checked against the location's CRC.
  rocksdb::Status Read(const BatchLocation& location, std::string* out);
  // The journal removed (or recycled) the file: close it here too.
  void Forget(uint64_t file);

 private:
  class OpenFile;
  std::shared_ptr<OpenFile> Open(uint64_t file, rocksdb::Status* why);

  static constexpr std::size_t kMaxOpenFiles = 256;
  const std::string dir_;
  std::mutex mu_;
  std::unordered_map<uint64_t, std::shared_ptr<OpenFile>> open_;  // GUARDED_BY(mu_)
};

}  // namespace herald::broker
