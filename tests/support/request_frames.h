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

// One message with `payload`, published as batch `base_sequence` of producer `producer_id`.
inline wire::EncodedFrame PublishFrame(uint64_t id, const std::string& topic, uint64_t producer_id,
                                       uint64_t base_sequence, const std::string& payload) {
  flatbuffers::FlatBufferBuilder fbb;
  auto t = fbb.CreateString(topic);
  auto p = wire::CreateBytes(fbb, payload);
  std::vector<flatbuffers::Offset<wire::Message>> messages{wire::CreateMessage(fbb, 0, 0, p)};
  auto m = fbb.CreateVector(messages);
  return wire::FinishFrame(fbb, id, wire::CreatePublish(fbb, t, producer_id, base_sequence, m));
}

// One message with `payload` and no key, producer id or headers.
inline wire::EncodedFrame PublishFrame(uint64_t id, const std::string& topic, const std::string& payload) {
  return PublishFrame(id, topic, 0, 0, payload);
}

inline wire::EncodedFrame SubscribeFrame(uint64_t id, const std::string& topic, const std::string& group) {
  flatbuffers::FlatBufferBuilder fbb;
  auto t = fbb.CreateString(topic);
  auto g = fbb.CreateString(group);
  return wire::FinishFrame(fbb, id, wire::CreateSubscribe(fbb, t, g));
}

}  // namespace herald::test
