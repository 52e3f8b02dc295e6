#pragma once
// The stored position of a consumer group: every offset below ack_floor is
// acknowledged, and so are the offsets in acked_above (all >= ack_floor).
//
// Layout: u8 format (=1) | varint ack_floor | varint n | n varint deltas
// (first delta from ack_floor, then from the previous offset).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace herald::broker {

struct GroupPosition {
  uint64_t ack_floor = 0;
  std::vector<uint64_t> acked_above;  // ascending

  std::string Encode() const;
  static std::optional<GroupPosition> Decode(std::string_view bytes);
};

}  // namespace herald::broker
