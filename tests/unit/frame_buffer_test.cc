#include "schemas/frame_buffer.h"

#include <algorithm>
#include <cstring>

#include <catch2/catch.hpp>

#include "schemas/frame.h"
#include "tests/support/request_frames.h"

using namespace herald::wire;

namespace {

EncodedFrame PublishFrame(uint64_t request_id, const std::string& topic) {
  return herald::test::PublishBatchFrame(request_id, topic, herald::test::BatchOf({"payload"}), 1, 1);
}

// Feeds `bytes` in pieces of `step` and returns the request ids of the frames seen.
std::vector<uint64_t> Feed(FrameBuffer& in, const std::string& bytes, std::size_t step) {
  std::vector<uint64_t> ids;
  std::size_t at = 0;
  for (;;) {
    std::span<const uint8_t> frame;
    uint32_t length = 0;
    auto r = in.Next(&frame, &length);
    if (r == FrameBuffer::Result::kFrame) {
      REQUIRE(reinterpret_cast<std::uintptr_t>(frame.data()) % 8 == 0);
      const Frame* f = VerifyFrame(frame.data(), frame.size());
      REQUIRE(f != nullptr);
      ids.push_back(f->request_id());
      continue;
    }
    REQUIRE(r == FrameBuffer::Result::kNeedMore);
    if (at == bytes.size()) return ids;
    auto space = in.Space();
    std::size_t n = std::min({step, space.size(), bytes.size() - at});
    std::memcpy(space.data(), bytes.data() + at, n);
    in.Commit(n);
    at += n;
  }
}

}  // namespace

TEST_CASE("frame_buffer: frames split anywhere come out whole, aligned and verified", "[unit][frame]") {
  std::string stream;
  // Topics of varied length make frame sizes that are not multiples of 8.
  for (uint64_t i = 1; i <= 50; ++i) {
    auto f = PublishFrame(i, std::string(i % 13 + 1, 't'));
    stream.append(reinterpret_cast<const char*>(f.data()), f.size());
  }
  for (std::size_t step : {1u, 3u, 7u, 64u, 1000u, 1u << 20}) {
    INFO("step " << step);
    FrameBuffer in(1u << 20, /*initial_bytes=*/64);
    auto ids = Feed(in, stream, step);
    REQUIRE(ids.size() == 50);
    for (uint64_t i = 0; i < 50; ++i) CHECK(ids[i] == i + 1);
  }
}

TEST_CASE("frame_buffer: a length above the limit or of zero is refused before allocating", "[unit][frame]") {
  FrameBuffer in(1024);
  const uint8_t huge[] = {0xff, 0xff, 0xff, 0xff};
  auto space = in.Space();
  std::memcpy(space.data(), huge, 4);
  in.Commit(4);
  std::span<const uint8_t> frame;
  uint32_t length = 0;
  CHECK(in.Next(&frame, &length) == FrameBuffer::Result::kTooLarge);
  CHECK(length == 0xffffffffu);

  FrameBuffer zero(1024);
  space = zero.Space();
  std::memset(space.data(), 0, 4);
  zero.Commit(4);
  CHECK(zero.Next(&frame, &length) == FrameBuffer::Result::kEmptyFrame);
}

TEST_CASE("frame_buffer: grows with the bytes that arrive, not with the length a prefix announces",
          "[unit][frame]") {
  constexpr uint32_t kAnnounced = 4u << 20;
  constexpr std::size_t kInitial = 64u << 10;
  FrameBuffer in(kAnnounced, kInitial);
  std::span<const uint8_t> frame;
  uint32_t length = 0;
  REQUIRE(in.Next(&frame, &length) == FrameBuffer::Result::kNeedMore);
  auto space = in.Space();
  const uint8_t prefix[] = {0, 0, 0x40, 0};  // 4 MiB, little-endian
  std::memcpy(space.data(), prefix, sizeof prefix);
  in.Commit(sizeof prefix);
  REQUIRE(in.Next(&frame, &length) == FrameBuffer::Result::kNeedMore);
  // Only the prefix arrived: the room offered is what the buffer had.
  CHECK(in.Space().size() <= kInitial);

  // As the body arrives the buffer doubles, never past twice what arrived.
  std::size_t arrived = sizeof prefix;
  while (arrived < kLengthPrefixBytes + kAnnounced) {
    space = in.Space();
    CHECK(arrived + space.size() <= std::max(kInitial, 2 * arrived));
    std::size_t n = std::min(space.size(), kLengthPrefixBytes + kAnnounced - arrived);
    std::memset(space.data(), 0, n);
    in.Commit(n);
    arrived += n;
    if (arrived < kLengthPrefixBytes + kAnnounced) REQUIRE(in.Next(&frame, &length) == FrameBuffer::Result::kNeedMore);
  }
  REQUIRE(in.Next(&frame, &length) == FrameBuffer::Result::kFrame);
  CHECK(frame.size() == kLengthPrefixBytes + kAnnounced);
  // Once the large frame is taken, the memory it needed is given back.
  REQUIRE(in.Next(&frame, &length) == FrameBuffer::Result::kNeedMore);
  CHECK(in.Space().size() <= kInitial);
}

TEST_CASE("frame_buffer: SetLimits applies to the frames not yet taken", "[unit][frame]") {
  auto a = PublishFrame(1, "a"), b = PublishFrame(2, std::string(3000, 'b'));
  std::string stream(reinterpret_cast<const char*>(a.data()), a.size());
  stream.append(reinterpret_cast<const char*>(b.data()), b.size());
  FrameBuffer in(1024, 256);
  auto space = in.Space();
  std::size_t n = std::min(space.size(), stream.size());
  std::memcpy(space.data(), stream.data(), n);
  in.Commit(n);
  std::span<const uint8_t> frame;
  uint32_t length = 0;
  REQUIRE(in.Next(&frame, &length) == FrameBuffer::Result::kFrame);
  // The second frame is above the first limit; the larger one admits it.
  REQUIRE(in.Next(&frame, &length) == FrameBuffer::Result::kTooLarge);
  in.SetLimits(1u << 20, 64u << 10);
  std::size_t at = n;
  for (;;) {
    auto r = in.Next(&frame, &length);
    if (r == FrameBuffer::Result::kFrame) break;
    REQUIRE(r == FrameBuffer::Result::kNeedMore);
    REQUIRE(at < stream.size());
    space = in.Space();
    std::size_t m = std::min(space.size(), stream.size() - at);
    std::memcpy(space.data(), stream.data() + at, m);
    in.Commit(m);
    at += m;
  }
  CHECK(VerifyFrame(frame.data(), frame.size())->request_id() == 2);
}

TEST_CASE("frame: garbage and truncated frames fail verification", "[unit][frame]") {
  auto good = PublishFrame(9, "topic");
  std::vector<uint64_t> aligned((good.size() + 7) / 8);
  std::memcpy(aligned.data(), good.data(), good.size());
  auto* bytes = reinterpret_cast<uint8_t*>(aligned.data());
  REQUIRE(VerifyFrame(bytes, good.size()) != nullptr);
  for (std::size_t n = 0; n < good.size(); ++n) CHECK(VerifyFrame(bytes, n) == nullptr);
  std::vector<uint64_t> noise(16, 0x5a5a5a5a5a5a5a5aull);
  CHECK(VerifyFrame(reinterpret_cast<uint8_t*>(noise.data()), 128) == nullptr);
}
