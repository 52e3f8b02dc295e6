#pragma once
// Pieces the store's .cc files share: value layouts of the meta and index
// column families, iterator bounds of one topic, error conversion.
// Internal to the storage layer.

#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>
#include <rocksdb/options.h>
#include <rocksdb/slice.h>
#include <rocksdb/status.h>

#include "broker/status.h"
#include "broker/storage/key_codec.h"
#include "broker/storage/store.h"
#include "broker/storage/varint.h"

namespace herald::broker::store_internal {

inline Status StorageError(const rocksdb::Status& s, std::string_view what) {
  return Status(wire::ErrorCode::StorageError, fmt::format("{}: {}", what, s.ToString()));
}

inline codec::SmallBytes<16> EncodeSummary(uint32_t count, uint32_t bytes, int64_t timestamp_ms) {
  codec::SmallBytes<16> v;
  codec::PutFixed32(&v, count);
  codec::PutFixed32(&v, bytes);
  codec::PutFixed64(&v, static_cast<uint64_t>(timestamp_ms));
  return v;
}

inline std::optional<BatchSummary> DecodeSummary(std::string_view key, std::string_view value) {
  if (key.size() != 16) return std::nullopt;
  codec::Reader in(value);
  BatchSummary b;
  b.base_offset = keys::GetBigEndian64(key.substr(8));
  b.count = in.Fixed32();
  b.bytes = in.Fixed32();
  b.timestamp_ms = static_cast<int64_t>(in.Fixed64());
  if (!in.ok() || b.count == 0) return std::nullopt;
  return b;
}

inline std::string EncodeTopicMeta(uint64_t id, const RetentionPolicy& r) {
  std::string v = keys::TopicPrefix(id);
  keys::PutBigEndian64(&v, r.max_age_ms);
  keys::PutBigEndian64(&v, r.max_bytes);
  keys::PutBigEndian64(&v, r.max_messages);
  return v;
}

// Iterator bounds for one topic's keys in the log, index, groups or producers CF.
struct TopicRange {
  explicit TopicRange(uint64_t topic_id)
      : lower(keys::TopicPrefix(topic_id)), upper(keys::TopicPrefix(topic_id + 1)),
        lower_slice(lower), upper_slice(upper) {
    options.iterate_lower_bound = &lower_slice;
    options.iterate_upper_bound = &upper_slice;
  }
  std::string lower, upper;
  rocksdb::Slice lower_slice, upper_slice;
  rocksdb::ReadOptions options;
};

}  // namespace herald::broker::store_internal
