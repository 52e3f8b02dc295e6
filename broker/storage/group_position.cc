#include "broker/storage/group_position.h"

#include <cstdint>

#include "broker/storage/varint.h"

namespace herald::broker {

namespace {
constexpr uint8_t kFormatPositionOnly = 1;
constexpr uint8_t kFormat = 2;
constexpr uint64_t kMaxBackoffSteps = 64;
}

std::string GroupPosition::Encode() const {
  std::string out;
  out.push_back(static_cast<char>(kFormat));
  codec::PutVarint(&out, ack_floor);
  codec::PutVarint(&out, acked_above.size());
  uint64_t prev = ack_floor;
  for (uint64_t offset : acked_above) {
    codec::PutVarint(&out, offset - prev);
    prev = offset;
  }
  codec::PutVarint(&out, max_deliveries);
  codec::PutVarint(&out, backoff_ms.size());
  for (uint32_t ms : backoff_ms) codec::PutVarint(&out, ms);
  codec::PutVarint(&out, skipped);
  codec::PutVarint(&out, dead_lettered);
  codec::PutVarint(&out, redeliveries);
  return out;
}

std::optional<GroupPosition> GroupPosition::Decode(std::string_view bytes) {
  codec::Reader in(bytes);
  std::string_view format = in.Bytes(1);
  if (!in.ok()) return std::nullopt;
  const uint8_t version = static_cast<uint8_t>(format[0]);
  if (version != kFormat && version != kFormatPositionOnly) return std::nullopt;
  GroupPosition pos;
  pos.ack_floor = in.Varint();
  uint64_t n = in.Varint();
  if (!in.ok() || n > bytes.size()) return std::nullopt;  // each delta takes >= 1 byte
  pos.acked_above.reserve(n);
  uint64_t prev = pos.ack_floor;
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t delta = in.Varint();
    if (i > 0 && delta == 0) return std::nullopt;  // must be strictly ascending
    prev += delta;
    pos.acked_above.push_back(prev);
  }
  if (version == kFormat) {
    uint64_t max_deliveries = in.Varint();
    uint64_t k = in.Varint();
    if (!in.ok() || max_deliveries > UINT32_MAX || k > kMaxBackoffSteps) return std::nullopt;
    pos.max_deliveries = static_cast<uint32_t>(max_deliveries);
    for (uint64_t i = 0; i < k; ++i) {
      uint64_t ms = in.Varint();
      if (ms > UINT32_MAX) return std::nullopt;
      pos.backoff_ms.push_back(static_cast<uint32_t>(ms));
    }
    pos.skipped = in.Varint();
    pos.dead_lettered = in.Varint();
    pos.redeliveries = in.Varint();
  }
  if (!in.ok() || !in.done()) return std::nullopt;
  return pos;
}

}  // namespace herald::broker
