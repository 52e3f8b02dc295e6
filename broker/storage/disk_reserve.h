#pragma once
// DiskReserve: a file of zeros the broker keeps in its data directory so that
// it can always start again. Opening RocksDB writes a new MANIFEST and OPTIONS
// file, and replaying the WAL flushes memtables: on a disk with no byte
// free, a broker killed while the disk was full could not start at all.
// When the disk is that full at start, the reserve is deleted first; the
// broker then serves reads and refuses writes (StorageError) until space
// comes back, as a running broker does, and lays the reserve down again
// once the disk has room for it and for writing.
//
// Thread: the storage thread (and Store::Open before it starts).

#include <cstdint>
#include <string>

namespace herald::broker {

class DiskReserve {
 public:
  // `bytes` 0: no reserve is kept.
  DiskReserve(std::string data_dir, uint64_t bytes);

  // Deletes the reserve if fewer than `needed` bytes are free on the disk;
  // true if it did.
  bool ReleaseIfShort(uint64_t needed);
  // Deletes the reserve whatever the free space; true if there was one.
  bool Release();
  // Lays the reserve down if it is missing and the disk has room for it plus
  // `margin` bytes; true if the reserve is there afterwards.
  bool Restore(uint64_t margin);

  bool present() const { return present_; }
  const std::string& path() const { return path_; }
  uint64_t bytes() const { return bytes_; }

  // Bytes free for this process on the disk of `dir`; UINT64_MAX if unknown.
  static uint64_t FreeBytes(const std::string& dir);

 private:
  std::string dir_;
  std::string path_;
  uint64_t bytes_;
  bool present_;
};

}  // namespace herald::broker
