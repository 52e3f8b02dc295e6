#pragma once
// FrameBuffer: the receive side of a frame stream, shared by the broker's
// sessions and the SDK's connection. Bytes are read into Space(), made
// visible with Commit(), and complete frames are taken with Next().
//
// Memory follows the bytes that arrived, never the length a prefix claims:
// a length above the limit is refused before anything grows, and a frame
// that is announced but not sent costs no more than the buffer already has.
// The buffer grows by doubling only when the bytes of one frame fill it (so
// a large frame is copied O(1) times per byte), and its bytes are never
// zero-filled: untouched pages of a large buffer stay unbacked.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace herald::wire {

class FrameBuffer {
 public:
  // Nothing is allocated until the first Space(); then `initial_bytes`.
  explicit FrameBuffer(uint32_t max_frame_bytes, std::size_t initial_bytes = 64u << 10);

  enum class Result { kNeedMore, kFrame, kTooLarge, kEmptyFrame };

  // On kFrame, *frame holds the whole frame (prefix included, 8-byte
  // aligned), valid until the next call on this buffer. On kTooLarge and
  // kEmptyFrame, *length tells the length the prefix announced.
  Result Next(std::span<const uint8_t>* frame, uint32_t* length);

  // Room to read into: never empty; moves unread bytes to the front, or
  // grows (at most to the frame at the front, and at most to twice what is
  // buffered) when they fill the buffer. REQUIRES: Next() returned kNeedMore.
  std::span<uint8_t> Space();
  void Commit(std::size_t n) { end_ += n; }
  // True while bytes of a frame not yet complete are buffered.
  bool HasPartialFrame() const { return end_ > begin_; }

  // New limits for the frames not yet taken (e.g. larger once a connection
  // has authenticated); the buffer reaches `initial_bytes` at the next Space().
  void SetLimits(uint32_t max_frame_bytes, std::size_t initial_bytes);
  // Bytes allocated for the buffer now (the aligned copy of a frame aside).
  std::size_t capacity() const { return capacity_; }

 private:
  uint8_t* data() { return reinterpret_cast<uint8_t*>(words_.get()); }
  // Moves the unread bytes into a new allocation of `bytes` (>= buffered).
  void Reallocate(std::size_t bytes);

  uint32_t max_frame_bytes_;
  std::size_t initial_bytes_;
  // 8-byte words, so a frame at the front is aligned; never value-initialized.
  std::unique_ptr<uint64_t[]> words_;
  std::size_t capacity_ = 0;  // bytes
  std::size_t begin_ = 0;     // first unread byte
  std::size_t end_ = 0;       // one past the last byte read
  std::size_t need_ = 0;      // bytes the frame at begin_ needs in all (0: unknown)
  // A frame that does not start on an 8-byte boundary is copied here first.
  std::unique_ptr<uint64_t[]> aligned_;
  std::size_t aligned_capacity_ = 0;  // bytes
};

}  // namespace herald::wire
