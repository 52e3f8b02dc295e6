#include "broker/net/publish_measure.h"

#include <string_view>

#include <fmt/format.h>

#include "broker/storage/record_batch.h"

namespace herald::broker {

Status MeasurePublish(const flatbuffers::Vector<flatbuffers::Offset<wire::Message>>& messages,
                      const PublishLimits& limits, std::size_t* bytes) {
  if (messages.size() > limits.max_publish_messages) {
    return {wire::ErrorCode::PayloadTooLarge,
            fmt::format("Publish of {} messages is above the limit of {}", messages.size(),
                        limits.max_publish_messages)};
  }
  std::size_t total = 0;
  for (const wire::Message* m : messages) {
    if (m == nullptr) return {wire::ErrorCode::MalformedFrame, "null message"};
    const std::size_t payload = m->payload() ? m->payload()->size() : 0;
    if (payload > limits.max_payload_bytes) {
      return {wire::ErrorCode::PayloadTooLarge,
              fmt::format("payload of {} bytes is above the limit of {}", payload,
                          limits.max_payload_bytes)};
    }
    const std::string_view key = wire::AsStringView(m->key());
    const auto* headers = m->headers();
    total += RecordBatchBuilder::RecordBytes(m->key() ? &key : nullptr,
                                             headers ? headers->size() : 0, payload);
    if (headers) {
      for (const wire::Header* h : *headers) {
        if (h == nullptr || h->name() == nullptr) {
          return {wire::ErrorCode::MalformedFrame, "header without a name"};
        }
        total += RecordBatchBuilder::HeaderBytes(h->name()->size(), h->value() ? h->value()->size() : 0);
        if (total > limits.max_publish_bytes) break;
      }
    }
    if (total > limits.max_publish_bytes) {
      return {wire::ErrorCode::PayloadTooLarge,
              fmt::format("Publish decodes to more than {} bytes, the limit of one Publish "
                          "(each element of messages counts)", limits.max_publish_bytes)};
    }
  }
  *bytes = total;
  return Status::Ok();
}

}  // namespace herald::broker
