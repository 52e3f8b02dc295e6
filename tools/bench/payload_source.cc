#include "payload_source.h"

#include <cstring>

namespace herald::bench {

PayloadSource::PayloadSource(std::size_t size, uint64_t seed) : bytes_(size, '\0'), state_(seed) {}

const std::string& PayloadSource::Next() {
  // splitmix64: eight bytes per step, a few nanoseconds for a 100 B payload,
  // so the generator costs the benchmark client little next to a publish.
  char* p = bytes_.data();
  std::size_t left = bytes_.size();
  while (left > 0) {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    const std::size_t n = left < sizeof z ? left : sizeof z;
    std::memcpy(p, &z, n);
    p += n;
    left -= n;
  }
  return bytes_;
}

}  // namespace herald::bench
