#include "broker/storage/crc32c.h"

#include <random>
#include <string>

#include <catch2/catch.hpp>

using namespace herald::broker;

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

