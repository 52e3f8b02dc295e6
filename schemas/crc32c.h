#pragma once
// CRC-32C (Castagnoli): the checksum of record batches and of the broker's journal records.
//
// Why not RocksDB's: Debian's librocksdb is built portable, so its CRC-32C is
// a table loop; over the WAL of a 1 KiB publish burst it was half of the
// storage thread's time (perf, 3 x 200k x 1 KiB). The SSE4.2 instruction does
// 8 bytes per step, and every x86-64 CPU of the last decade has it; other
// CPUs get the table loop.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace herald::crc32c {

// The CRC of data appended to bytes whose CRC was `crc` (0 for none).
uint32_t Extend(uint32_t crc, const char* data, std::size_t n);

inline uint32_t Value(std::string_view data) { return Extend(0, data.data(), data.size()); }

// The table loop that Extend falls back to, exposed so that tests can check
// both against each other.
uint32_t ExtendPortable(uint32_t crc, const char* data, std::size_t n);

}  // namespace herald::crc32c
