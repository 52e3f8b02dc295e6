#pragma once
// How big a Publish is once decoded, checked against the broker's limits
// before anything is built. The wire does not bound it: FlatBuffers lets the
// messages vector (and each headers vector) point many times at one table,
// so a small frame can name any number of large messages. Every reference is
// counted as the record it becomes.
//
// No I/O and no broker state: the frame fuzzer runs it on every Publish.

#include <cstddef>
#include <cstdint>

#include "broker/status.h"
#include "schemas/frame.h"

namespace herald::broker {

struct PublishLimits {
  uint32_t max_payload_bytes = wire::kDefaultMaxPayloadBytes;
  uint32_t max_publish_bytes = wire::kDefaultMaxPublishBytes;
  uint32_t max_publish_messages = wire::kDefaultMaxPublishMessages;
};

// On success *bytes is the size of the records RecordBatchBuilder will write
// (its reserve_bytes). Otherwise PayloadTooLarge (a payload, the message
// count or the decoded size above its limit) or MalformedFrame (a null
// message or a header without a name). The walk stops at the first limit
// passed, so its cost is bounded by the limits, not by what the frame names.
Status MeasurePublish(const flatbuffers::Vector<flatbuffers::Offset<wire::Message>>& messages,
                      const PublishLimits& limits, std::size_t* bytes);

}  // namespace herald::broker
