#pragma once
// Conversions between the SDK's public structs and the wire tables, in one
// place so that replies to different requests (TopicInfo in ListTopics,
// DescribeTopic, AlterTopic and PurgeTopic; Delivery in Deliver and FetchOk)
// are read the same way. Absent wire fields read as their defaults.

#include <flatbuffers/flatbuffers.h>

#include "herald/client.h"
#include "schemas/frame.h"

namespace herald::client_detail {

void FillGroupInfo(const wire::GroupInfo& in, GroupInfo* out);
void FillTopicInfo(const wire::TopicInfo& in, TopicInfo* out);
// Offset, time, count, key, headers and payload; topic and group are the caller's.
void FillReceivedMessage(const wire::Delivery& in, ReceivedMessage* out);

wire::StartFrom ToWire(StartFrom from);
flatbuffers::Offset<wire::Retention> CreateRetention(flatbuffers::FlatBufferBuilder& fbb,
                                                     const Retention& r);
// Milliseconds as the wire's u32 list, clamped (a backoff above 49 days is not meant).
std::vector<uint32_t> ToWireMillis(const std::vector<std::chrono::milliseconds>& list);

}  // namespace herald::client_detail
