#include "schemas/frame.h"

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
  flatbuffers::FlatBufferBuilder fbb(32);
  return FinishFrame(fbb, request_id, CreateOk(fbb));
}

}  // namespace herald::wire
