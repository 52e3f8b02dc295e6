#include "wire_convert.h"

#include <algorithm>
#include <cstdint>
#include <limits>

#include "schemas/record_batch.h"

namespace herald::client_detail {

void FillGroupInfo(const wire::GroupInfo& in, GroupInfo* out) {
  out->name = in.name() ? in.name()->str() : "";
  out->ack_floor = in.ack_floor();
  out->members = in.members();
  out->in_flight = in.in_flight();
  out->read_cursor = in.read_cursor();
  out->ready = in.ready();
  out->topic = in.topic() ? in.topic()->str() : "";
  out->lag = in.lag();
  out->oldest_unacked_age_ms = in.oldest_unacked_age_ms();
  out->skipped = in.skipped();
  out->dead_lettered = in.dead_lettered();
  out->redeliveries = in.redeliveries();
  out->max_deliveries = in.max_deliveries();
  out->backoff.clear();
  if (in.backoff_ms()) {
    for (uint32_t ms : *in.backoff_ms()) out->backoff.emplace_back(ms);
  }
}

void FillTopicInfo(const wire::TopicInfo& in, TopicInfo* out) {
  out->name = in.name() ? in.name()->str() : "";
  out->earliest_offset = in.earliest_offset();
  out->next_offset = in.next_offset();
  out->message_count = in.message_count();
  out->bytes = in.bytes();
  out->retention = {};
  if (const wire::Retention* r = in.retention()) {
    out->retention.max_age = std::chrono::milliseconds(static_cast<int64_t>(
        std::min<uint64_t>(r->max_age_ms(), std::numeric_limits<int64_t>::max())));
    out->retention.max_bytes = r->max_bytes();
    out->retention.max_messages = r->max_messages();
  }
  out->groups.clear();
  if (in.groups()) {
    for (const wire::GroupInfo* g : *in.groups()) {
      if (g == nullptr) continue;
      FillGroupInfo(*g, &out->groups.emplace_back());
      // The topic is implied inside a TopicInfo; say it anyway.
      if (out->groups.back().topic.empty()) out->groups.back().topic = out->name;
    }
  }
}

bool ForEachDelivered(const flatbuffers::Vector<uint8_t>* records,
                      const flatbuffers::Vector<const wire::DeliveredRecord*>* entries, ReceivedMessage* m,
                      const std::function<void(ReceivedMessage&)>& fn) {
  if (entries == nullptr || entries->size() == 0) return true;
  // FlatBuffers' verifier checks where a vector of structs ends, not that its
  // elements are aligned. A builder aligns them (the frame itself is 8-byte
  // aligned), so a table of records that is not comes from a broken sender.
  if (reinterpret_cast<std::uintptr_t>(entries->data()) % alignof(wire::DeliveredRecord) != 0) return false;
  std::string_view rest = wire::AsStringView(records);
  for (const wire::DeliveredRecord* e : *entries) {
    if (e->record_bytes() > rest.size()) return false;
    wire::RecordReader reader(rest.substr(0, e->record_bytes()));
    rest.remove_prefix(e->record_bytes());
    wire::RecordView r;
    if (!reader.Next(&r) || !reader.done()) return false;
    m->offset = e->offset();
    m->timestamp_ms = e->timestamp_ms();
    m->delivery_count = e->delivery_count();
    m->key = r.has_key ? std::optional<std::string_view>(r.key) : std::nullopt;
    m->headers.clear();
    wire::HeaderReader headers(r.headers, r.header_count);
    HeaderView h;
    while (headers.Next(&h.name, &h.value)) m->headers.push_back(h);
    if (!headers.ok()) return false;
    m->payload = r.payload;
    fn(*m);
  }
  return true;
}

wire::StartFrom ToWire(StartFrom from) {
  switch (from) {
    case StartFrom::earliest: return wire::StartFrom::Earliest;
    case StartFrom::latest: return wire::StartFrom::Latest;
    case StartFrom::offset: return wire::StartFrom::Offset;
    case StartFrom::timestamp: return wire::StartFrom::Timestamp;
  }
  return wire::StartFrom::Earliest;
}

flatbuffers::Offset<wire::Retention> CreateRetention(flatbuffers::FlatBufferBuilder& fbb,
                                                     const Retention& r) {
  // A negative age is no limit, like 0: the wire field is unsigned.
  uint64_t age = r.max_age.count() > 0 ? static_cast<uint64_t>(r.max_age.count()) : 0;
  return wire::CreateRetention(fbb, age, r.max_bytes, r.max_messages);
}

std::vector<uint32_t> ToWireMillis(const std::vector<std::chrono::milliseconds>& list) {
  std::vector<uint32_t> out;
  out.reserve(list.size());
  for (auto d : list) {
    out.push_back(static_cast<uint32_t>(
        std::clamp<int64_t>(d.count(), 0, std::numeric_limits<uint32_t>::max())));
  }
  return out;
}

}  // namespace herald::client_detail
