#pragma once
// The only code that knows how a frame looks in bytes:
//   [u32 little-endian body length][Frame flatbuffer of that length]
// Readers check the length against their limit before allocating, then verify.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include <flatbuffers/flatbuffers.h>

#include "herald_generated.h"

namespace herald::wire {

// Protocol 2: messages travel as record batches (Publish.batch, Deliver.records).
inline constexpr uint32_t kProtocolVersion = 2;
inline constexpr std::size_t kLengthPrefixBytes = 4;
inline constexpr uint32_t kDefaultMaxFrameBytes = 4u << 20;    // 4 MiB
inline constexpr uint32_t kDefaultMaxPayloadBytes = 1u << 20;  // 1 MiB
// Until its Hello succeeds a connection is unauthenticated, and its frames may
// be at most this large: a Hello with a 256-bit token is about 150 bytes.
inline constexpr uint32_t kMaxHelloFrameBytes = 4u << 10;  // 4 KiB
// One Publish's record batch, whole, and its messages (HelloOk announces the broker's values).
inline constexpr uint32_t kDefaultMaxPublishBytes = 4u << 20;   // 4 MiB
inline constexpr uint32_t kDefaultMaxPublishMessages = 65'536;
// A Nack's reason is cut to this many bytes (at a UTF-8 character boundary):
// the broker keeps it with every message it names until they are settled.
inline constexpr std::size_t kMaxNackReasonBytes = 1024;

// `text` cut to at most `max` bytes without splitting a UTF-8 character.
inline std::string_view TruncateUtf8(std::string_view text, std::size_t max) {
  if (text.size() <= max) return text;
  std::size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end);
}

// An encoded frame, prefix included, ready for the socket. Owns its memory.
using EncodedFrame = flatbuffers::DetachedBuffer;

// Reads the length prefix at `prefix` (kLengthPrefixBytes bytes).
uint32_t DecodeLength(const uint8_t* prefix);

// Verifies one whole frame, prefix included (`size` = prefix + body). Returns
// the frame, or nullptr when the bytes are not a valid Frame. `frame` must be
// 8-byte aligned (FrameBuffer sees to that): FlatBuffers aligns fields
// relative to the prefix. A verified frame may still have absent fields and
// an absent union value: callers null-check every field.
const Frame* VerifyFrame(const uint8_t* frame, std::size_t size);

// Finishes `fbb` as a size-prefixed Frame carrying `body`.
template <class T>
EncodedFrame FinishFrame(flatbuffers::FlatBufferBuilder& fbb, uint64_t request_id,
                         flatbuffers::Offset<T> body) {
  auto frame = CreateFrame(fbb, request_id, BodyTraits<T>::enum_value, body.Union());
  fbb.FinishSizePrefixed(frame);
  return fbb.Release();
}

// Frame buffers the sending thread recycles. A FlatBufferBuilder given
// RecyclingFrameAllocator() and a size from RecycledFrameBytes (a power of
// two from 256 B to 4 MiB) takes a buffer that a frame of that size freed
// on this thread before, if one is spare; the frame gives it back when it is
// freed. So replies, acks, deliveries and the SDK's publish batches cost no
// heap allocation, and no page faults on fresh memory, once a connection has
// sent a few. Each thread keeps at most 4 MiB spare; other sizes are
// ordinary allocations.
inline constexpr std::size_t kSmallFrameBytes = 256;
inline constexpr std::size_t kLargestRecycledFrameBytes = 4u << 20;
flatbuffers::Allocator& RecyclingFrameAllocator();
// `bytes` rounded up to a recycled size; unchanged above the largest.
std::size_t RecycledFrameBytes(std::size_t bytes);

// Encodes the frame whose body build(fbb) returns, in a recycled buffer.
template <class Build>
EncodedFrame EncodeSmallFrame(uint64_t request_id, Build&& build) {
  flatbuffers::FlatBufferBuilder fbb(kSmallFrameBytes, &RecyclingFrameAllocator());
  return FinishFrame(fbb, request_id, build(fbb));
}

// Whether a client may send `body` (a request), rather than only receive it
// (a reply or a delivery). PROTOCOL.md's request table, in code.
constexpr bool IsRequest(Body body) {
  switch (body) {
    case Body::Hello: case Body::Publish: case Body::CreateTopic: case Body::DeleteTopic:
    case Body::ListTopics: case Body::DescribeTopic: case Body::Subscribe: case Body::Unsubscribe:
    case Body::Ack: case Body::Nack: case Body::AlterTopic: case Body::PurgeTopic:
    case Body::DescribeGroup: case Body::ResetGroup: case Body::DeleteGroup: case Body::GetStatus:
    case Body::Fetch: case Body::ExtendDeadline:
      return true;
    default:
      return false;
  }
}

EncodedFrame EncodeError(uint64_t request_id, ErrorCode code, std::string_view message);
EncodedFrame EncodeOk(uint64_t request_id);

// Byte vectors carried as strings on both sides of the wire.
inline std::string_view AsStringView(const flatbuffers::Vector<uint8_t>* v) {
  if (v == nullptr) return {};
  return {reinterpret_cast<const char*>(v->data()), v->size()};
}
inline flatbuffers::Offset<flatbuffers::Vector<uint8_t>> CreateBytes(
    flatbuffers::FlatBufferBuilder& fbb, std::string_view bytes) {
  return fbb.CreateVector(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

}  // namespace herald::wire
