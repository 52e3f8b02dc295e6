#pragma once
// RocksDB key layouts. Integers are big-endian so that bytewise key order is
// numeric order: a prefix scan over one topic walks its log in offset order.
//
//   log CF:       topic_id(8) | base_offset(8)          -> batch location (batch_location.h)
//   index CF:     topic_id(8) | base_offset(8)          -> batch summary (BatchSummary)
//   groups CF:    topic_id(8) | group name              -> group position
//   producers CF: topic_id(8) | producer_id(8)          -> producer state
//   meta CF:      "topic/" name                         -> topic id(8) [| retention 3 x u64]
//                 "start/" topic_id(8)                  -> first offset kept (after truncation)
//                 "bytes/" topic_id(8)                  -> stored batch bytes of the topic (u64)
//                 "next_topic_id"                       -> u64
//                 "seg/" file(8) topic_id(8)           -> end offset (u64) of the topic's last
//                                                          batch in that segment file
// The index holds a few bytes per batch, so retention and timestamp lookups
// scan it instead of the batches themselves.

#include <cstdint>
#include <string>
#include <string_view>

#include "broker/storage/varint.h"

namespace herald::broker::keys {

template <class Out>  // a std::string or a codec::SmallBytes
void PutBigEndian64(Out* out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>(v >> shift));
}

inline uint64_t GetBigEndian64(std::string_view in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

inline std::string TopicPrefix(uint64_t topic_id) {
  std::string k;
  PutBigEndian64(&k, topic_id);
  return k;
}

// Log and index keys, and producer keys (the same layout: two big-endian
// u64), built in place: the group commit writes two per batch.
using LogKeyBytes = codec::SmallBytes<16>;
inline LogKeyBytes LogKeyOf(uint64_t topic_id, uint64_t base_offset) {
  LogKeyBytes k;
  PutBigEndian64(&k, topic_id);
  PutBigEndian64(&k, base_offset);
  return k;
}

inline std::string LogKey(uint64_t topic_id, uint64_t base_offset) {
  return std::string(LogKeyOf(topic_id, base_offset).view());
}

inline std::string GroupKey(uint64_t topic_id, std::string_view group) {
  std::string k = TopicPrefix(topic_id);
  k.append(group);
  return k;
}

inline std::string ProducerKey(uint64_t topic_id, uint64_t producer_id) {
  return LogKey(topic_id, producer_id);  // same layout: two big-endian u64
}

inline std::string TopicMetaKey(std::string_view name) { return "topic/" + std::string(name); }
inline std::string TopicStartKey(uint64_t topic_id) { return "start/" + TopicPrefix(topic_id); }
inline std::string TopicBytesKey(uint64_t topic_id) { return "bytes/" + TopicPrefix(topic_id); }
inline constexpr std::string_view kSegmentPrefix = "seg/";
inline codec::SmallBytes<20> SegmentKeyOf(uint64_t file, uint64_t topic_id) {
  codec::SmallBytes<20> k;
  k.append(kSegmentPrefix);
  PutBigEndian64(&k, file);
  PutBigEndian64(&k, topic_id);
  return k;
}
inline std::string SegmentKey(uint64_t file, uint64_t topic_id) {
  return std::string(SegmentKeyOf(file, topic_id).view());
}
inline constexpr std::string_view kTopicMetaPrefix = "topic/";
inline constexpr std::string_view kNextTopicIdKey = "next_topic_id";

}  // namespace herald::broker::keys
