#pragma once
// Request frames built by hand for RawConnection: the few requests that tests
// of the broker's own checks (auth, ACLs, reloads) send over and over.

#include <string>
#include <vector>

#include <flatbuffers/flatbuffers.h>

#include "schemas/frame.h"

namespace herald::test {

inline wire::EncodedFrame CreateTopicFrame(uint64_t id, const std::string& name) {
  flatbuffers::FlatBufferBuilder fbb;
  auto n = fbb.CreateString(name);
  return wire::FinishFrame(fbb, id, wire::CreateCreateTopic(fbb, n));
}

// One message with `payload` and no key, producer id or headers.
inline wire::EncodedFrame PublishFrame(uint64_t id, const std::string& topic, const std::string& payload) {
  flatbuffers::FlatBufferBuilder fbb;
  auto t = fbb.CreateString(topic);
  auto p = wire::CreateBytes(fbb, payload);
  std::vector<flatbuffers::Offset<wire::Message>> messages{wire::CreateMessage(fbb, 0, 0, p)};
  auto m = fbb.CreateVector(messages);
  return wire::FinishFrame(fbb, id, wire::CreatePublish(fbb, t, 0, 0, m));
}

// One message per payload, no keys, producer id or headers.
inline wire::EncodedFrame PublishFrame(uint64_t id, const std::string& topic,
                                       const std::vector<std::string>& payloads) {
  flatbuffers::FlatBufferBuilder fbb;
  auto t = fbb.CreateString(topic);
  std::vector<flatbuffers::Offset<wire::Message>> messages;
  for (const auto& p : payloads) messages.push_back(wire::CreateMessage(fbb, 0, 0, wire::CreateBytes(fbb, p)));
  auto m = fbb.CreateVector(messages);
  return wire::FinishFrame(fbb, id, wire::CreatePublish(fbb, t, 0, 0, m));
}

// The offsets a Deliver hands out, in order.
inline std::vector<uint64_t> DeliveredOffsets(const wire::Deliver& deliver) {
  std::vector<uint64_t> offsets;
  if (deliver.messages() == nullptr) return offsets;
  for (const wire::Delivery* d : *deliver.messages()) offsets.push_back(d->offset());
  return offsets;
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
