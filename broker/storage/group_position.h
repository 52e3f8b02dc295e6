#pragma once
// The stored state of a consumer group: its position (every offset below
// ack_floor is acknowledged, and so are the offsets in acked_above, all >=
// ack_floor), its redelivery policy and its lifetime counters.
//
// Layout: u8 format (=2) | varint ack_floor | varint n | n varint deltas
// (first delta from ack_floor, then from the previous offset)
// | varint max_deliveries | varint k | k varint backoff_ms
// | varint skipped | varint dead_lettered | varint redeliveries.
// Format 1 (written before groups had a policy) ends after the deltas.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace herald::broker {

struct GroupPosition {
  uint64_t ack_floor = 0;
  std::vector<uint64_t> acked_above;  // ascending

  uint32_t max_deliveries = 0;        // 0: the broker's default
  std::vector<uint32_t> backoff_ms;   // empty: the broker's default
  uint64_t skipped = 0;               // removed by retention before they were acked
  uint64_t dead_lettered = 0;
  uint64_t redeliveries = 0;

  std::string Encode() const;
  static std::optional<GroupPosition> Decode(std::string_view bytes);
};

}  // namespace herald::broker
