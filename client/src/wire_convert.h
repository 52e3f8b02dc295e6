#pragma once
// Conversions between the SDK's public structs and the wire tables, in one
// place so that replies to different requests (TopicInfo in ListTopics,
// DescribeTopic, AlterTopic and PurgeTopic; Delivery in Deliver and FetchOk)
// are read the same way. Absent wire fields read as their defaults.

#include <functional>

#include <flatbuffers/flatbuffers.h>

#include "herald/client.h"
#include "schemas/frame.h"

namespace herald::client_detail {

void FillGroupInfo(const wire::GroupInfo& in, GroupInfo* out);
void FillTopicInfo(const wire::TopicInfo& in, TopicInfo* out);
// Calls fn(message) for each message of a Deliver or FetchOk: views into
// `records`, in one ReceivedMessage reused from call to call (topic and group
// are the caller's, set beforehand). False, after the messages before it, at
// the first entry whose record is missing or corrupt.
bool ForEachDelivered(const flatbuffers::Vector<uint8_t>* records,
                      const flatbuffers::Vector<const wire::DeliveredRecord*>* entries, ReceivedMessage* message,
                      const std::function<void(ReceivedMessage&)>& fn);

wire::StartFrom ToWire(StartFrom from);
flatbuffers::Offset<wire::Retention> CreateRetention(flatbuffers::FlatBufferBuilder& fbb,
                                                     const Retention& r);
// Milliseconds as the wire's u32 list, clamped (a backoff above 49 days is not meant).
std::vector<uint32_t> ToWireMillis(const std::vector<std::chrono::milliseconds>& list);

}  // namespace herald::client_detail
