#pragma once
// Request frames built by hand for RawConnection: the few requests that tests
// of the broker's own checks (auth, ACLs, reloads) send over and over.

#include <string>
#include <string_view>
#include <vector>

#include <flatbuffers/flatbuffers.h>

#include "schemas/frame.h"
#include "schemas/record_batch.h"

namespace herald::test {

inline wire::EncodedFrame CreateTopicFrame(uint64_t id, const std::string& name) {
  flatbuffers::FlatBufferBuilder fbb;
  auto n = fbb.CreateString(name);
  return wire::FinishFrame(fbb, id, wire::CreateCreateTopic(fbb, n));
}

// A record batch of one message per payload, without keys or headers.
inline std::string BatchOf(const std::vector<std::string>& payloads) {
  wire::batch::StringBuilder b(static_cast<uint32_t>(payloads.size()));
  for (const auto& p : payloads) {
    b.StartRecord(nullptr, 0);
    b.FinishRecord(p);
  }
  return b.Finish();
}

// A Publish of `batch` (producer id 0 unless given).
inline wire::EncodedFrame PublishBatchFrame(uint64_t id, const std::string& topic, std::string_view batch,
                                            uint64_t producer_id = 0, uint64_t base_sequence = 0) {
  flatbuffers::FlatBufferBuilder fbb;
  auto t = fbb.CreateString(topic);
  auto b = wire::CreateBytes(fbb, batch);
  return wire::FinishFrame(fbb, id, wire::CreatePublish(fbb, t, producer_id, base_sequence, b));
}

// One message with `payload` and no key, producer id or headers.
inline wire::EncodedFrame PublishFrame(uint64_t id, const std::string& topic, const std::string& payload) {
  return PublishBatchFrame(id, topic, BatchOf({payload}));
}

// One message per payload, no keys, producer id or headers.
inline wire::EncodedFrame PublishFrame(uint64_t id, const std::string& topic,
                                       const std::vector<std::string>& payloads) {
  return PublishBatchFrame(id, topic, BatchOf(payloads));
}

// The offsets a Deliver hands out, in order.
inline std::vector<uint64_t> DeliveredOffsets(const wire::Deliver& deliver) {
  std::vector<uint64_t> offsets;
  if (deliver.entries() == nullptr) return offsets;
  for (const wire::DeliveredRecord* e : *deliver.entries()) offsets.push_back(e->offset());
  return offsets;
}

// The payloads a Deliver hands out, in order (views into the frame).
inline std::vector<std::string_view> DeliveredPayloads(const wire::Deliver& deliver) {
  std::vector<std::string_view> payloads;
  wire::RecordReader records(wire::AsStringView(deliver.records()));
  wire::RecordView r;
  while (records.Next(&r)) payloads.push_back(r.payload);
  return payloads;
}

// request_id 0: no reply.
inline wire::EncodedFrame AckFrame(uint32_t subscription_id, const std::vector<uint64_t>& offsets) {
  flatbuffers::FlatBufferBuilder fbb;
  auto v = fbb.CreateVector(offsets);
  return wire::FinishFrame(fbb, 0, wire::CreateAck(fbb, subscription_id, v));
}

inline wire::EncodedFrame SubscribeFrame(uint64_t id, const std::string& topic, const std::string& group) {
  flatbuffers::FlatBufferBuilder fbb;
  auto t = fbb.CreateString(topic);
  auto g = fbb.CreateString(group);
  return wire::FinishFrame(fbb, id, wire::CreateSubscribe(fbb, t, g));
}

}  // namespace herald::test
