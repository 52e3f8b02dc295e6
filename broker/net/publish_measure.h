#pragma once
// The checks a Publish's record batch passes before the broker trusts it:
// the publish limits, then the batch itself (bounds, CRC, record count,
// schemas/record_batch.h). Cheapest first: the limits read only the header,
// so a batch above them costs no CRC pass.
//
// No I/O and no broker state: the frame fuzzer runs it on every Publish.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "broker/status.h"
#include "schemas/frame.h"

namespace herald::broker {

struct PublishLimits {
  uint32_t max_payload_bytes = wire::kDefaultMaxPayloadBytes;
  uint32_t max_publish_bytes = wire::kDefaultMaxPublishBytes;
  uint32_t max_publish_messages = wire::kDefaultMaxPublishMessages;
};

// On success *count is the batch's record count. Otherwise PayloadTooLarge
// (the batch, its message count or a payload above its limit) or
// MalformedFrame (the batch is not a valid format-2 batch), or
// InvalidArgument (a valid batch of no records).
Status CheckPublishBatch(std::string_view batch, const PublishLimits& limits, uint32_t* count);

}  // namespace herald::broker
