#include "broker/storage/group_position.h"

#include "broker/storage/varint.h"

namespace herald::broker {

namespace {
constexpr uint8_t kFormat = 1;
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
  return out;
}

std::optional<GroupPosition> GroupPosition::Decode(std::string_view bytes) {
  codec::Reader in(bytes);
  std::string_view format = in.Bytes(1);
  if (!in.ok() || static_cast<uint8_t>(format[0]) != kFormat) return std::nullopt;
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
  if (!in.ok() || !in.done()) return std::nullopt;
  return pos;
}

}  // namespace herald::broker
