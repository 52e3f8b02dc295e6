#include "schemas/frame_buffer.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "schemas/frame.h"

namespace herald::wire {

namespace {
// An empty buffer larger than this many times its initial size is given back
// (it grew for one large frame); likewise the aligned copy of such a frame.
constexpr std::size_t kShrinkFactor = 4;
}  // namespace

FrameBuffer::FrameBuffer(uint32_t max_frame_bytes, std::size_t initial_bytes)
    : max_frame_bytes_(max_frame_bytes), initial_bytes_(std::max(initial_bytes, kLengthPrefixBytes)) {}

void FrameBuffer::SetLimits(uint32_t max_frame_bytes, std::size_t initial_bytes) {
  max_frame_bytes_ = max_frame_bytes;
  initial_bytes_ = std::max(initial_bytes, kLengthPrefixBytes);
  need_ = 0;  // Next() reads the prefix again under the new limit
}

FrameBuffer::Result FrameBuffer::Next(std::span<const uint8_t>* frame, uint32_t* length) {
  std::size_t available = end_ - begin_;
  if (available < kLengthPrefixBytes) return Result::kNeedMore;
  uint32_t n = DecodeLength(data() + begin_);
  *length = n;
  if (n == 0) return Result::kEmptyFrame;
  if (n > max_frame_bytes_) return Result::kTooLarge;
  std::size_t total = kLengthPrefixBytes + n;
  if (available < total) {
    need_ = total;
    return Result::kNeedMore;
  }
  const uint8_t* start = data() + begin_;
  if (reinterpret_cast<std::uintptr_t>(start) % 8 != 0) {
    // Frames whose size is not a multiple of 8 shift the ones after them.
    if (aligned_capacity_ < total) {
      aligned_capacity_ = (total + 7) / 8 * 8;
      aligned_ = std::make_unique_for_overwrite<uint64_t[]>(aligned_capacity_ / 8);
    }
    std::memcpy(aligned_.get(), start, total);
    start = reinterpret_cast<const uint8_t*>(aligned_.get());
  }
  *frame = std::span<const uint8_t>(start, total);
  // The frame stays in place until the next call; consume it lazily.
  begin_ += total;
  need_ = 0;
  return Result::kFrame;
}

void FrameBuffer::Reallocate(std::size_t bytes) {
  std::size_t buffered = end_ - begin_;
  // make_unique_for_overwrite: the new bytes are not zero-filled.
  auto words = std::make_unique_for_overwrite<uint64_t[]>((bytes + 7) / 8);
  if (buffered > 0) std::memcpy(words.get(), data() + begin_, buffered);
  words_ = std::move(words);
  capacity_ = (bytes + 7) / 8 * 8;
  begin_ = 0;
  end_ = buffered;
}

std::span<uint8_t> FrameBuffer::Space() {
  if (begin_ == end_) {
    begin_ = end_ = 0;
    if (capacity_ > initial_bytes_ * kShrinkFactor) Reallocate(initial_bytes_);
    if (aligned_capacity_ > initial_bytes_ * kShrinkFactor) {
      aligned_.reset();
      aligned_capacity_ = 0;
    }
  }
  if (capacity_ < initial_bytes_) Reallocate(initial_bytes_);
  // The frame at begin_ needs `want` bytes in all; until its prefix is here, 4.
  std::size_t want = std::max(need_, kLengthPrefixBytes);
  if (capacity_ - begin_ < want || end_ == capacity_) {
    std::memmove(data(), data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (end_ == capacity_) {
    // The frame's bytes fill the buffer (so want > capacity_): double it,
    // but never past the frame.
    Reallocate(std::min(2 * capacity_, std::max(want, capacity_ + 1)));
  }
  return {data() + end_, capacity_ - end_};
}

}  // namespace herald::wire
