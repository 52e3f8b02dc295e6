#include "schemas/frame.h"

namespace herald::wire {

uint32_t DecodeLength(const uint8_t* prefix) {
  return static_cast<uint32_t>(prefix[0]) | static_cast<uint32_t>(prefix[1]) << 8 |
         static_cast<uint32_t>(prefix[2]) << 16 | static_cast<uint32_t>(prefix[3]) << 24;
}

const Frame* VerifyFrame(const uint8_t* frame, std::size_t size) {
  // Depth and table limits bound the verifier's own work on hostile input.
  flatbuffers::Verifier verifier(frame, size, /*max_depth=*/32, /*max_tables=*/1'000'000);
  if (!verifier.VerifySizePrefixedBuffer<Frame>(nullptr)) return nullptr;
  return flatbuffers::GetSizePrefixedRoot<Frame>(frame);
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
