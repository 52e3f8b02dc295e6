// broker-bench's payloads: fresh bytes per message, so that no storage engine
// in a comparison gains from compressing them.

#include <cstring>
#include <set>
#include <string>

#include <catch2/catch.hpp>

#include "tools/bench/payload_source.h"

using herald::bench::PayloadSource;

TEST_CASE("bench payload: every message gets fresh bytes of the asked size", "[unit][bench]") {
  for (std::size_t size : {1u, 7u, 8u, 100u, 1024u}) {
    PayloadSource source(size, 42);
    const std::string first = source.Next();
    const std::string second = source.Next();
    CHECK(first.size() == size);
    CHECK(second.size() == size);
    if (size >= 8) CHECK(first != second);
  }
  CHECK(PayloadSource(100, 1).Next() != PayloadSource(100, 2).Next());
}

TEST_CASE("bench payload: no 8-byte word repeats within 64 KiB of messages", "[unit][bench]") {
  // A compressor finds what repeats within its window (LZ4: 64 KiB); a
  // repeated 8-byte word anywhere in that much output would be a match.
  PayloadSource source(100, 7);
  std::set<uint64_t> words;
  std::size_t total = 0;
  for (int i = 0; i < 656; ++i) {  // 656 x 100 B > 64 KiB
    const std::string& p = source.Next();
    for (std::size_t at = 0; at + 8 <= p.size(); at += 8) {
      uint64_t w;
      std::memcpy(&w, p.data() + at, 8);
      words.insert(w);
      ++total;
    }
  }
  CHECK(words.size() == total);
}
