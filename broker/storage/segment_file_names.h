#pragma once
// Names of the files in the data directory's journal/ folder: a 20-digit
// number and a suffix. The segment log writes NNN.seg (and keeps one deleted
// file as NNN.seg.free to recycle); the journal of older releases wrote
// NNN.log, set records after a hole aside as NNN.log.damaged, and kept a
// NNN.log.free (legacy_journal.h). One number is never given twice in a
// directory, whatever its suffix, so a batch's location stays unambiguous.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace herald::broker::segment_files {

inline constexpr const char* kSegment = ".seg";
inline constexpr const char* kLegacy = ".log";
inline constexpr const char* kDamaged = ".damaged";
inline constexpr const char* kFree = ".free";
inline constexpr std::size_t kDigits = 20;

inline std::string NameOf(uint64_t number) {
  std::string digits = std::to_string(number);
  return std::string(kDigits - std::min(kDigits, digits.size()), '0') + digits;
}

// The number in a file's name, or 0 if it is no such name; *suffix: what
// follows the digits.
inline uint64_t NumberOf(std::string_view name, std::string_view* suffix) {
  if (name.size() <= kDigits) return 0;
  uint64_t n = 0;
  for (std::size_t i = 0; i < kDigits; ++i) {
    if (name[i] < '0' || name[i] > '9') return 0;
    n = n * 10 + static_cast<uint64_t>(name[i] - '0');
  }
  *suffix = name.substr(kDigits);
  return n;
}

}  // namespace herald::broker::segment_files
