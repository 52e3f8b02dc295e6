#include "schemas/frame_buffer.h"

#include <cstdint>
#include <cstring>

#include "schemas/frame.h"

namespace herald::wire {

FrameBuffer::FrameBuffer(uint32_t max_frame_bytes, std::size_t initial_bytes)
    : max_frame_bytes_(max_frame_bytes), initial_bytes_(initial_bytes), buf_(initial_bytes) {}

FrameBuffer::Result FrameBuffer::Next(std::span<const uint8_t>* frame, uint32_t* length) {
  std::size_t available = end_ - begin_;
  if (available < kLengthPrefixBytes) return Result::kNeedMore;
  uint32_t n = DecodeLength(buf_.data() + begin_);
  *length = n;
  if (n == 0) return Result::kEmptyFrame;
  if (n > max_frame_bytes_) return Result::kTooLarge;
  std::size_t total = kLengthPrefixBytes + n;
  if (available < total) {
    need_ = total;
    return Result::kNeedMore;
  }
  const uint8_t* start = buf_.data() + begin_;
  if (reinterpret_cast<std::uintptr_t>(start) % 8 != 0) {
    // Frames whose size is not a multiple of 8 shift the ones after them.
    aligned_.resize((total + 7) / 8);
    std::memcpy(aligned_.data(), start, total);
    start = reinterpret_cast<const uint8_t*>(aligned_.data());
  }
  *frame = std::span<const uint8_t>(start, total);
  // The frame stays in place until the next call; consume it lazily.
  begin_ += total;
  need_ = 0;
  return Result::kFrame;
}

std::span<uint8_t> FrameBuffer::Space() {
  if (begin_ == end_) {
    begin_ = end_ = 0;
    // Give back memory grown for one large frame.
    if (buf_.size() > initial_bytes_ * 4) buf_ = std::vector<uint8_t>(initial_bytes_);
  }
  std::size_t want = std::max(need_, kLengthPrefixBytes);
  if (buf_.size() - begin_ < want || end_ == buf_.size()) {
    std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (buf_.size() < want) buf_.resize(want);
  if (end_ == buf_.size()) buf_.resize(buf_.size() * 2);
  return {buf_.data() + end_, buf_.size() - end_};
}

}  // namespace herald::wire
