#pragma once
// Pieces several request handlers share: name checks that answer the client
// themselves, start positions, and the TopicInfo / GroupInfo replies.
//
// Thread: the broker's I/O thread.

#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "broker/net/floor_times.h"
#include "broker/security/acl.h"
#include "broker/state/broker_context.h"
#include "schemas/frame.h"

namespace herald::broker {

class Session;

enum class NameKind { kTopic, kGroup };

// The name, or nullopt after replying: MalformedFrame (and close) if the field
// is missing, InvalidTopicName / InvalidGroupName if it is not a valid name.
std::optional<std::string> RequireName(Session& session, uint64_t request_id,
                                       const flatbuffers::String* field, NameKind kind);
// The topic, or nullptr after replying TopicNotFound.
Topic* RequireTopic(Session& session, BrokerContext& ctx, uint64_t request_id,
                    const std::string& name);

// Whether the connection's principal may do `p` on `name` (always, with auth
// off). If not, replies NotAuthorized, logs the denial (the first few per
// connection, then one in 1,000) and returns false. Handlers ask before they
// look the name up, so a refusal says nothing about whether the name exists.
bool Authorize(Session& session, uint64_t request_id, Permission p, std::string_view name,
               const char* request);
// The same for a group operation, which needs a right on the topic and one on
// the group (Acl::AllowsGroupOf). Checked before either is looked up, so a
// refusal reads the same whether or not the topic or group exists.
bool AuthorizeGroup(Session& session, uint64_t request_id, GroupAccess access,
                    std::string_view topic, std::string_view group, const char* request);
// Whether the connection may see this group's state (no reply either way).
bool MayDescribeGroup(const Session& session, std::string_view topic, std::string_view group);

// The offset a start position means in this topic's log. Earliest, latest
// and an offset are answered at once: then(&topic, start) runs within the
// call. A time is looked up in the store's index on a reader thread (it may
// read the disk), and then runs later on the I/O thread with the topic as it
// is by then: nullptr if it was deleted meanwhile.
using StartResolved = std::function<void(Topic* topic, uint64_t start)>;
void ResolveStart(BrokerContext& ctx, Topic& topic, wire::StartFrom start, uint64_t offset,
                  int64_t timestamp_ms, StartResolved then);

RetentionPolicy RetentionFromWire(const wire::Retention* retention);
flatbuffers::Offset<wire::Retention> RetentionToWire(flatbuffers::FlatBufferBuilder& fbb,
                                                     const RetentionPolicy& retention);

// The oldest unacked message's age comes from `times` (floor_times.h): -1
// where they do not know the time of the group's floor.
flatbuffers::Offset<wire::GroupInfo> BuildGroupInfo(flatbuffers::FlatBufferBuilder& fbb,
                                                    Topic& topic, const ConsumerGroup& group,
                                                    const FloorTimes& times);
// Lists only the groups `viewer` may describe: the topic's other groups, their
// names and positions, are not the viewer's business.
flatbuffers::Offset<wire::TopicInfo> BuildTopicInfo(flatbuffers::FlatBufferBuilder& fbb,
                                                    BrokerContext& ctx, Topic& topic,
                                                    const Session& viewer, const FloorTimes& times);
// The floors of the groups BuildTopicInfo would show `viewer` that memory
// holds no time for (FloorTimes::AddIfMissing).
void AddMissingFloors(Topic& topic, const Session& viewer, FloorTimes::Floors* missing);

// A Deliver's or FetchOk's messages: their stored records copied side by
// side into one byte vector (sliced from the stored batches, not
// re-encoded), and their table. *table is scratch, reused between calls.
struct DeliveredRecords {
  flatbuffers::Offset<flatbuffers::Vector<uint8_t>> records;
  flatbuffers::Offset<flatbuffers::Vector<const wire::DeliveredRecord*>> entries;
};

// items: anything; message_of(item) -> const MessageRef&, count_of(item) -> delivery count.
template <class Item, class MessageOf, class CountOf>
DeliveredRecords BuildDeliveredRecords(flatbuffers::FlatBufferBuilder& fbb, std::span<const Item> items,
                                       MessageOf message_of, CountOf count_of,
                                       std::vector<wire::DeliveredRecord>* table) {
  std::size_t bytes = 0;
  for (const Item& item : items) bytes += message_of(item).record().bytes.size();
  uint8_t* out = nullptr;
  DeliveredRecords built;
  built.records = fbb.CreateUninitializedVector(bytes, 1, &out);
  table->clear();
  for (const Item& item : items) {
    const MessageRef& m = message_of(item);
    const std::string_view record = m.record().bytes;
    std::memcpy(out, record.data(), record.size());
    out += record.size();
    table->emplace_back(m.offset(), m.timestamp_ms(), count_of(item), static_cast<uint32_t>(record.size()));
  }
  built.entries = fbb.CreateVectorOfStructs(*table);
  return built;
}

int64_t WallClockMs();

}  // namespace herald::broker
