#include "broker/net/publish_measure.h"

#include <fmt/format.h>

#include "schemas/record_batch.h"

namespace herald::broker {

Status CheckPublishBatch(std::string_view batch, const PublishLimits& limits, uint32_t* count) {
  if (batch.size() > limits.max_publish_bytes) {
    return {wire::ErrorCode::PayloadTooLarge,
            fmt::format("Publish batch of {} bytes is above the limit of {}", batch.size(),
                        limits.max_publish_bytes)};
  }
  const std::optional<wire::batch::Header> header = wire::batch::ReadHeader(batch);
  if (header && header->format == wire::batch::kFormat && header->count > limits.max_publish_messages) {
    return {wire::ErrorCode::PayloadTooLarge,
            fmt::format("Publish of {} messages is above the limit of {}", header->count,
                        limits.max_publish_messages)};
  }
  std::size_t largest_payload = 0;
  if (wire::batch::Problem p = wire::batch::Check(batch, &largest_payload); p != wire::batch::Problem::kNone) {
    if (p == wire::batch::Problem::kNoRecords) return {wire::ErrorCode::InvalidArgument, "Publish has no messages"};
    return {wire::ErrorCode::MalformedFrame, fmt::format("Publish batch: {}", wire::batch::Describe(p))};
  }
  if (largest_payload > limits.max_payload_bytes) {
    return {wire::ErrorCode::PayloadTooLarge,
            fmt::format("payload of {} bytes is above the limit of {}", largest_payload,
                        limits.max_payload_bytes)};
  }
  *count = header->count;
  return Status::Ok();
}

}  // namespace herald::broker
