#pragma once
// LEB128 varints and little-endian fixed-width integers for the record batch
// and the storage formats. Decoders never read past `end` and report failure instead.

#include <array>
#include <cassert>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace herald::codec {

// The Put functions append to a std::string or to anything else with
// push_back(char), such as a SmallBytes (below).
template <class Out>
void PutVarint(Out* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

// The bytes PutVarint writes for v.
inline std::size_t VarintLength(uint64_t v) {
  std::size_t n = 1;
  for (; v >= 0x80; v >>= 7) ++n;
  return n;
}

template <class Out>
void PutFixed64(Out* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}

template <class Out>
void PutFixed32(Out* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}

// At most N bytes, built in place: for the short keys and values written
// per stored batch, which as std::strings of more than 15 bytes would each
// be a heap allocation. Appending past N is a programming error (asserted).
template <std::size_t N>
class SmallBytes {
 public:
  void push_back(char c) {
    assert(size_ < N);
    bytes_[size_++] = c;
  }
  void append(std::string_view s) {
    assert(s.size() <= N - size_);
    std::memcpy(bytes_.data() + size_, s.data(), s.size());
    size_ += s.size();
  }
  const char* data() const { return bytes_.data(); }
  std::size_t size() const { return size_; }
  std::string_view view() const { return {bytes_.data(), size_}; }

 private:
  std::array<char, N> bytes_;
  std::size_t size_ = 0;
};

// A bounds-checked reader over a byte string. After the first failure every
// read fails and ok() is false.
class Reader {
 public:
  explicit Reader(std::string_view in) : p_(in.data()), end_(in.data() + in.size()) {}

  bool ok() const { return ok_; }
  bool done() const { return p_ == end_; }
  const char* position() const { return p_; }

  uint64_t Varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ == end_) return Fail();
      uint8_t b = static_cast<uint8_t>(*p_++);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return v;
    }
    return Fail();
  }

  uint64_t Fixed64() {
    if (end_ - p_ < 8) return Fail();
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p_[i]);
    p_ += 8;
    return v;
  }

  uint32_t Fixed32() {
    if (end_ - p_ < 4) return static_cast<uint32_t>(Fail());
    uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p_[i]);
    p_ += 4;
    return v;
  }

  std::string_view Bytes(uint64_t n) {
    if (!ok_ || static_cast<uint64_t>(end_ - p_) < n) {
      Fail();
      return {};
    }
    std::string_view v(p_, n);
    p_ += n;
    return v;
  }

  // A varint length followed by that many bytes.
  std::string_view LengthPrefixed() { return Bytes(Varint()); }

 private:
  uint64_t Fail() {
    ok_ = false;
    p_ = end_;
    return 0;
  }
  const char* p_;
  const char* end_;
  bool ok_ = true;
};

}  // namespace herald::codec
