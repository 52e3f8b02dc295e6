#include "schemas/frame.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>

namespace herald::wire {

uint32_t DecodeLength(const uint8_t* prefix) {
  return static_cast<uint32_t>(prefix[0]) | static_cast<uint32_t>(prefix[1]) << 8 |
         static_cast<uint32_t>(prefix[2]) << 16 | static_cast<uint32_t>(prefix[3]) << 24;
}

namespace {

// FlatBuffers 2.0.8's verifier checks that a vector's 4-byte length is
// aligned, not that its elements are: a hand-made frame can put a [ulong] at
// 4 mod 8, and reading it (the broker takes offsets as a span) would be a
// misaligned load. A builder always aligns them, so such a frame is refused.
// (Found by the frame fuzzer.)
bool Aligned(const flatbuffers::Vector<uint64_t>* v) {
  return v == nullptr || reinterpret_cast<std::uintptr_t>(v->data()) % alignof(uint64_t) == 0;
}

bool EightByteVectorsAligned(const Frame& f) {
  switch (f.body_type()) {
    case Body::Ack: return !f.body_as_Ack() || Aligned(f.body_as_Ack()->offsets());
    case Body::Nack: return !f.body_as_Nack() || Aligned(f.body_as_Nack()->offsets());
    case Body::ExtendDeadline:
      return !f.body_as_ExtendDeadline() || Aligned(f.body_as_ExtendDeadline()->offsets());
    default: return true;  // no other message has a vector of 8-byte scalars
  }
}

}  // namespace

const Frame* VerifyFrame(const uint8_t* frame, std::size_t size) {
  // Depth and table limits bound the verifier's own work on hostile input.
  flatbuffers::Verifier verifier(frame, size, /*max_depth=*/32, /*max_tables=*/1'000'000);
  if (!verifier.VerifySizePrefixedBuffer<Frame>(nullptr)) return nullptr;
  const Frame* f = flatbuffers::GetSizePrefixedRoot<Frame>(frame);
  return EightByteVectorsAligned(*f) ? f : nullptr;
}

EncodedFrame EncodeError(uint64_t request_id, ErrorCode code, std::string_view message) {
  flatbuffers::FlatBufferBuilder fbb(64 + message.size());
  auto text = fbb.CreateString(message.data(), message.size());
  return FinishFrame(fbb, request_id, CreateErrorReply(fbb, code, text));
}

EncodedFrame EncodeOk(uint64_t request_id) {
  return EncodeSmallFrame(request_id, [](flatbuffers::FlatBufferBuilder& fbb) { return CreateOk(fbb); });
}

namespace {

constexpr std::size_t kRecycledClasses = 15;  // 256 B .. 4 MiB

// -1: not a recycled size.
int ClassOf(std::size_t size) {
  if (size < kSmallFrameBytes || size > kLargestRecycledFrameBytes || (size & (size - 1)) != 0) return -1;
  return std::countr_zero(size) - std::countr_zero(kSmallFrameBytes);
}

// The calling thread's spare frame buffers, by size class: up to 16 of
// each, and 4 MiB in all. Its destructor (at thread exit) frees them and
// closes it: a frame freed later goes to delete[].
struct SpareFrames {
  static constexpr std::size_t kMaxPerClass = 16;
  static constexpr std::size_t kMaxBytes = 4u << 20;
  std::array<std::array<uint8_t*, kMaxPerClass>, kRecycledClasses> buffers{};
  std::array<std::size_t, kRecycledClasses> count{};
  std::size_t bytes = 0;
  bool open = true;
  ~SpareFrames() {
    for (std::size_t c = 0; c < kRecycledClasses; ++c)
      for (std::size_t i = 0; i < count[c]; ++i) delete[] buffers[c][i];
    count = {};
    bytes = 0;
    open = false;
  }
};
thread_local SpareFrames t_spare_frames;

class RecyclingAllocator final : public flatbuffers::Allocator {
 public:
  uint8_t* allocate(size_t size) override {
    SpareFrames& spare = t_spare_frames;
    const int c = ClassOf(size);
    if (c >= 0 && spare.open && spare.count[c] > 0) {
      spare.bytes -= size;
      return spare.buffers[c][--spare.count[c]];
    }
    return new uint8_t[size];
  }
  void deallocate(uint8_t* p, size_t size) override {
    SpareFrames& spare = t_spare_frames;
    const int c = ClassOf(size);
    if (c >= 0 && spare.open && spare.count[c] < SpareFrames::kMaxPerClass &&
        spare.bytes + size <= SpareFrames::kMaxBytes) {
      spare.buffers[c][spare.count[c]++] = p;
      spare.bytes += size;
      return;
    }
    delete[] p;
  }
};

}  // namespace

flatbuffers::Allocator& RecyclingFrameAllocator() {
  static RecyclingAllocator allocator;
  return allocator;
}

std::size_t RecycledFrameBytes(std::size_t bytes) {
  if (bytes > kLargestRecycledFrameBytes) return bytes;
  return std::max(kSmallFrameBytes, std::bit_ceil(bytes));
}

}  // namespace herald::wire
