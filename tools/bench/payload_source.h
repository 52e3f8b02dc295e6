#pragma once
// PayloadSource: the bytes of every benchmark message, for Herald and NATS
// alike. Each call to Next() gives fresh pseudo-random bytes, so that no
// storage engine gains from compressing them: when Herald's log compressed
// every flush with LZ4, a payload of one repeated byte shrank 100 B messages
// about 30x on disk (10 million took 37 MiB), which real events do not.

#include <cstddef>
#include <cstdint>
#include <string>

namespace herald::bench {

class PayloadSource {
 public:
  PayloadSource(std::size_t size, uint64_t seed);

  // size bytes, new on every call; the reference stays valid until the next.
  const std::string& Next();

 private:
  std::string bytes_;
  uint64_t state_;
};

}  // namespace herald::bench
