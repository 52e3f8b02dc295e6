#pragma once
// FrameBuffer: the receive side of a frame stream, shared by the broker's
// sessions and the SDK's connection. Bytes are read into Space(), made
// visible with Commit(), and complete frames are taken with Next(). The
// length prefix is checked against the limit before the buffer grows for a
// frame, so a hostile length never allocates.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace herald::wire {

class FrameBuffer {
 public:
  explicit FrameBuffer(uint32_t max_frame_bytes, std::size_t initial_bytes = 64u << 10);

  enum class Result { kNeedMore, kFrame, kTooLarge, kEmptyFrame };

  // On kFrame, *frame holds the whole frame (prefix included, 8-byte
  // aligned), valid until the next call on this buffer. On kTooLarge and
  // kEmptyFrame, *length tells the length the prefix announced.
  Result Next(std::span<const uint8_t>* frame, uint32_t* length);

  // Room to read into: never empty; moves unread bytes to the front or grows
  // (up to one frame) as needed.
  std::span<uint8_t> Space();
  void Commit(std::size_t n) { end_ += n; }
  // True while bytes of a frame not yet complete are buffered.
  bool HasPartialFrame() const { return end_ > begin_; }

 private:
  uint32_t max_frame_bytes_;
  std::size_t initial_bytes_;
  std::vector<uint8_t> buf_;
  std::size_t begin_ = 0;  // first unread byte
  std::size_t end_ = 0;    // one past the last byte read
  std::size_t need_ = 0;   // bytes the frame at begin_ needs in all (0: unknown)
  // A frame that does not start on an 8-byte boundary is copied here first.
  std::vector<uint64_t> aligned_;
};

}  // namespace herald::wire
