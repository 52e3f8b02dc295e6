// frame_fuzzer: the receive path of a Herald connection without a socket.
//
// The input is a byte stream as a peer could send it, cut into up to four
// reads at fuzzer-chosen points:
//   u8 control | k x u16 little-endian read sizes | stream bytes
//   control bits 0-1: k, the number of cuts (0..3)
//   control bits 2-3: FrameBuffer's initial size: 16, 256, 4096 or 64 KiB
//   control bit 4:    frame limit: 4 MiB (the default) or 200 bytes
// The stream goes through wire::FrameBuffer like Session::ReadLoop and the
// SDK's Connection feed it. For every complete frame:
//   * FrameBuffer must hand out exactly the bytes that were sent, 8-aligned;
//   * wire::VerifyFrame runs on it, and a verified frame has every field read
//     the way the broker's handlers (broker/net/handle_*.cc) and the SDK
//     (client/src: admin.cc, connection.cc, wire_convert.cc) read it;
//   * a Publish that the broker would accept (broker/net/publish_measure.cc,
//     HandlePublish's limits) is encoded into a record batch
//     (broker/storage/record_batch.cc, as HandlePublish does) and parsed back:
//     it must round-trip, and decode to exactly the bytes measured, within
//     the publish limit (a messages vector that points many times at one
//     message pays for each reference).
// The raw stream is also parsed as a stored record batch (values read back
// from RocksDB): a corrupt one must be refused, never crash.
//
// This stops short of the broker's handlers themselves (they need a Session on
// a socket, a Store and an io_context): it exercises decoding, verification
// and field access, fast and deterministically. broker_fuzzer.cc sends the
// same inputs to a real in-process broker.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "broker/net/publish_measure.h"
#include "broker/storage/record_batch.h"
#include "schemas/frame.h"
#include "schemas/frame_buffer.h"
#include "schemas/names.h"
#include "wire_convert.h"
#include "fuzz_check.h"

namespace {

using namespace herald;

// Everything read goes in here, so that no read is optimized away.
volatile uint64_t g_sink;
void Use(uint64_t v) { g_sink = g_sink * 31 + v; }
void Use(std::string_view s) {
  std::string copy(s);  // a copy reads every byte (ASan checks the range)
  Use(copy.size() + (copy.empty() ? 0 : static_cast<uint8_t>(copy.back())));
}
void Use(const flatbuffers::String* s) {
  if (s != nullptr) Use(s->string_view());
}
// FlatBuffers 2.0.8's verifier checks that a vector's 4-byte length is
// aligned, not that its elements are; VerifyFrame adds that check for the
// [ulong] offsets, which the broker reads as a span (misaligned loads were UB;
// regressions/frame/misaligned_nack_offsets.bin).
template <class T>
void UseScalars(const flatbuffers::Vector<T>* v) {
  if (v == nullptr) return;
  CHECK(reinterpret_cast<std::uintptr_t>(v->data()) % alignof(T) == 0);
  // Ack/Nack/ExtendDeadline hand {data(), size()} to the group as a span.
  std::span<const T> span(v->data(), v->size());
  for (T x : span) Use(static_cast<uint64_t>(x));
}

// Names as RequireName checks them (broker/net/handler_support.cc).
void UseName(const flatbuffers::String* s) {
  if (s == nullptr) return;
  std::string name = s->str();
  Use(wire::IsValidName(name) ? 1 : 0);
  if (wire::IsValidName(name)) CHECK(!name.empty() && name.size() <= wire::kMaxNameLength);
}

void UseRetention(const wire::Retention* r) {
  if (r == nullptr) return;
  Use(r->max_age_ms());
  Use(r->max_bytes());
  Use(r->max_messages());
}

// ---- the broker's side: requests -------------------------------------------------------

void WalkHello(const wire::Hello& hello) {
  Use(hello.protocol_version());
  std::string name = hello.client_name() ? hello.client_name()->str().substr(0, 64) : "";
  std::erase_if(name, [](char c) { return c < 0x20 || c > 0x7e; });
  Use(name);
}

// HandlePublish's checks, then the broker fields written as the storage
// thread writes them, then a parse of what would be stored.
void WalkPublish(const wire::Publish& request) {
  const auto* batch = request.batch();
  if (request.topic() == nullptr || batch == nullptr) return;  // MalformedFrame
  UseName(request.topic());
  Use(request.producer_id());
  Use(request.base_sequence());
  const broker::PublishLimits limits;
  uint32_t count = 0;
  if (!broker::CheckPublishBatch(wire::AsStringView(batch), limits, &count).ok()) return;  // refused
  CHECK(batch->size() <= limits.max_publish_bytes);
  CHECK(count > 0 && count <= limits.max_publish_messages);

  std::string stored(wire::AsStringView(batch));
  const int64_t timestamp = 1'700'000'000'000 + count;
  wire::batch::SetBrokerFields(stored.data(), 42, timestamp);
  // The broker's fields lie outside the CRC: the batch stays valid.
  CHECK(wire::batch::Check(stored) == wire::batch::Problem::kNone);
  CHECK(broker::RecordBatch::PeekCount(stored) == count);
  CHECK(broker::RecordBatch::PeekTimestamp(stored) == timestamp);
  auto parsed = broker::RecordBatch::Parse(42, stored);
  CHECK(parsed != nullptr);
  CHECK(parsed->count() == count);
  CHECK(parsed->base_offset() == 42 && parsed->end_offset() == 42 + count);
  CHECK(parsed->timestamp_ms() == timestamp);
  std::size_t record_bytes = 0;
  for (uint32_t i = 0; i < count; ++i) {
    const broker::RecordView& r = parsed->record(i);
    record_bytes += r.bytes.size();
    uint32_t seen = 0;
    bool ok = broker::ForEachHeader(r.headers, r.header_count, [&](std::string_view name, std::string_view value) {
      ++seen;
      Use(name);
      Use(value);
    });
    CHECK(ok && seen == r.header_count);
  }
  CHECK(record_bytes + wire::batch::kHeaderBytes == stored.size());
}

void WalkSubscribe(const wire::Subscribe& s) {
  if (s.topic() == nullptr || s.group() == nullptr) return;
  UseName(s.topic());
  UseName(s.group());
  Use(s.window());
  Use(s.ack_deadline_ms());
  Use(static_cast<uint64_t>(s.start()));
  Use(s.start_offset());
  Use(static_cast<uint64_t>(s.start_timestamp_ms()));
  Use(s.max_deliveries());
  if (s.backoff_ms() && s.backoff_ms()->size() <= 64) UseScalars(s.backoff_ms());
}

void WalkRequest(const wire::Frame& frame) {
  using wire::Body;
  switch (frame.body_type()) {
    case Body::Hello:
      if (auto* b = frame.body_as_Hello()) WalkHello(*b);
      break;
    case Body::Publish:
      if (auto* b = frame.body_as_Publish()) WalkPublish(*b);
      break;
    case Body::CreateTopic:
      if (auto* b = frame.body_as_CreateTopic()) {
        UseName(b->name());
        UseRetention(b->retention());
      }
      break;
    case Body::DeleteTopic:
      if (auto* b = frame.body_as_DeleteTopic()) UseName(b->name());
      break;
    case Body::DescribeTopic:
      if (auto* b = frame.body_as_DescribeTopic()) UseName(b->name());
      break;
    case Body::AlterTopic:
      if (auto* b = frame.body_as_AlterTopic()) {
        UseName(b->name());
        UseRetention(b->retention());
      }
      break;
    case Body::PurgeTopic:
      if (auto* b = frame.body_as_PurgeTopic()) UseName(b->name());
      break;
    case Body::DescribeGroup:
      if (auto* b = frame.body_as_DescribeGroup()) {
        UseName(b->topic());
        UseName(b->group());
      }
      break;
    case Body::ResetGroup:
      if (auto* b = frame.body_as_ResetGroup()) {
        UseName(b->topic());
        UseName(b->group());
        Use(static_cast<uint64_t>(b->start()));
        Use(b->offset());
        Use(static_cast<uint64_t>(b->timestamp_ms()));
      }
      break;
    case Body::DeleteGroup:
      if (auto* b = frame.body_as_DeleteGroup()) {
        UseName(b->topic());
        UseName(b->group());
      }
      break;
    case Body::Fetch:
      if (auto* b = frame.body_as_Fetch()) {
        UseName(b->topic());
        Use(static_cast<uint64_t>(b->start()));
        Use(b->offset());
        Use(static_cast<uint64_t>(b->timestamp_ms()));
        Use(b->max_messages());
        Use(b->max_bytes());
      }
      break;
    case Body::Subscribe:
      if (auto* b = frame.body_as_Subscribe()) WalkSubscribe(*b);
      break;
    case Body::Unsubscribe:
      if (auto* b = frame.body_as_Unsubscribe()) Use(b->subscription_id());
      break;
    case Body::Ack:
      if (auto* b = frame.body_as_Ack()) {
        Use(b->subscription_id());
        UseScalars(b->offsets());
      }
      break;
    case Body::Nack:
      if (auto* b = frame.body_as_Nack()) {
        Use(b->subscription_id());
        UseScalars(b->offsets());
        Use(b->delay_ms());
        Use(b->reason() ? b->reason()->string_view() : std::string_view());
      }
      break;
    case Body::ExtendDeadline:
      if (auto* b = frame.body_as_ExtendDeadline()) {
        Use(b->subscription_id());
        UseScalars(b->offsets());
      }
      break;
    default:
      // The broker answers UnexpectedMessage naming the type.
      Use(std::string_view(wire::EnumNameBody(frame.body_type())));
  }
}

// ---- the SDK's side: replies and deliveries --------------------------------------------

void WalkReply(const wire::Frame& frame) {
  using wire::Body;
  switch (frame.body_type()) {
    case Body::HelloOk:
      if (const auto* b = frame.body_as_HelloOk()) {
        Use(b->protocol_version());
        Use(b->broker_version());
        Use(b->max_frame_bytes());
        Use(b->max_payload_bytes());
      }
      break;
    case Body::ErrorReply:
      if (const auto* b = frame.body_as_ErrorReply()) {
        Use(static_cast<uint64_t>(b->code()));
        Use(b->message());
      }
      break;
    case Body::PublishOk:
      if (const auto* b = frame.body_as_PublishOk()) {
        Use(b->base_offset());
        Use(b->count());
        Use(b->duplicate());
      }
      break;
    case Body::CreateTopicOk:
      if (const auto* b = frame.body_as_CreateTopicOk()) {
        Use(b->created());
      }
      break;
    case Body::TopicInfo:
      if (const auto* b = frame.body_as_TopicInfo()) {
        TopicInfo info;
        client_detail::FillTopicInfo(*b, &info);
        Use(info.name);
        Use(info.groups.size());
      }
      break;
    case Body::TopicList:
      if (const auto* b = frame.body_as_TopicList()) {
        if (b->topics()) {
          for (const wire::TopicInfo* t : *b->topics()) {
            if (t == nullptr) continue;
            TopicInfo info;
            client_detail::FillTopicInfo(*t, &info);
            Use(info.name);
          }
        }
        Use(b->next());
      }
      break;
    case Body::GroupInfo:
      if (const auto* b = frame.body_as_GroupInfo()) {
        GroupInfo info;
        client_detail::FillGroupInfo(*b, &info);
        Use(info.name);
        Use(info.backoff.size());
      }
      break;
    case Body::SubscribeOk:
      if (const auto* b = frame.body_as_SubscribeOk()) {
        Use(b->subscription_id());
      }
      break;
    case Body::StatusInfo:
      if (const auto* b = frame.body_as_StatusInfo()) {
        Use(b->broker_version());
        Use(b->uptime_ms());
        Use(b->data_dir());
        Use(b->storage_bytes());
      }
      break;
    case Body::Deliver:
      if (const auto* b = frame.body_as_Deliver()) {
        Use(b->subscription_id());
        ReceivedMessage m;
        client_detail::ForEachDelivered(b->records(), b->entries(), &m, [](ReceivedMessage& r) {
          Use(r.payload);
          Use(r.headers.size());
        });
      }
      break;
    case Body::FetchOk:
      if (const auto* b = frame.body_as_FetchOk()) {
        Use(b->earliest_offset());
        Use(b->end_offset());
        Use(b->next_offset());
        ReceivedMessage m;
        client_detail::ForEachDelivered(b->records(), b->entries(), &m, [](ReceivedMessage& r) { Use(r.payload); });
      }
      break;
    default:
      break;
  }
}

// ---- stored record batches -------------------------------------------------------------

void WalkStoredBatch(std::string_view bytes) {
  auto batch = broker::RecordBatch::Parse(7, std::string(bytes));
  if (batch == nullptr) return;
  CHECK(batch->count() > 0);
  CHECK(broker::RecordBatch::PeekCount(bytes) == batch->count());
  CHECK(broker::RecordBatch::PeekTimestamp(bytes) == batch->timestamp_ms());
  for (uint32_t i = 0; i < batch->count(); ++i) {
    const broker::RecordView& r = batch->record(i);
    Use(r.key);
    Use(r.payload);
    uint32_t seen = 0;
    CHECK(broker::ForEachHeader(r.headers, r.header_count, [&](std::string_view name, std::string_view value) {
      ++seen;
      Use(name);
      Use(value);
    }));
    CHECK(seen == r.header_count);
  }
}

// ---- the stream ------------------------------------------------------------------------

void OnFrame(std::span<const uint8_t> bytes) {
  const wire::Frame* frame = wire::VerifyFrame(bytes.data(), bytes.size());
  if (frame == nullptr) return;  // MalformedFrame
  Use(frame->request_id());
  if (frame->body_type() == wire::Body::NONE) return;
  WalkRequest(*frame);
  WalkReply(*frame);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const uint8_t control = data[0];
  std::size_t at = 1;
  std::vector<std::size_t> reads;
  for (int i = 0; i < (control & 3); ++i) {
    if (size - at < 2) return 0;
    reads.push_back(data[at] | static_cast<std::size_t>(data[at + 1]) << 8);
    at += 2;
  }
  static constexpr std::size_t kInitial[] = {16, 256, 4096, 64u << 10};
  const std::size_t initial = kInitial[(control >> 2) & 3];
  const uint32_t max_frame = (control & 0x10) ? 200 : wire::kDefaultMaxFrameBytes;
  const uint8_t* stream = data + at;
  const std::size_t stream_size = size - at;

  WalkStoredBatch({reinterpret_cast<const char*>(stream), stream_size});

  wire::FrameBuffer in(max_frame, initial);
  std::size_t sent = 0;      // bytes committed to the buffer
  std::size_t consumed = 0;  // bytes handed out as frames
  std::size_t read_index = 0;
  for (;;) {
    std::span<const uint8_t> frame;
    uint32_t length = 0;
    auto result = in.Next(&frame, &length);
    if (result == wire::FrameBuffer::Result::kFrame) {
      CHECK(sent - consumed >= wire::kLengthPrefixBytes);
      CHECK(length == wire::DecodeLength(stream + consumed));
      CHECK(length > 0 && length <= max_frame);
      CHECK(frame.size() == wire::kLengthPrefixBytes + length);
      CHECK(consumed + frame.size() <= sent);
      CHECK(reinterpret_cast<std::uintptr_t>(frame.data()) % 8 == 0);
      CHECK(std::memcmp(frame.data(), stream + consumed, frame.size()) == 0);
      consumed += frame.size();
      OnFrame(frame);
      continue;
    }
    if (result == wire::FrameBuffer::Result::kTooLarge ||
        result == wire::FrameBuffer::Result::kEmptyFrame) {
      // The connection closes: the rest of the stream is never read.
      CHECK(sent - consumed >= wire::kLengthPrefixBytes);
      CHECK(length == wire::DecodeLength(stream + consumed));
      CHECK(result == wire::FrameBuffer::Result::kEmptyFrame ? length == 0 : length > max_frame);
      return 0;
    }
    CHECK(result == wire::FrameBuffer::Result::kNeedMore);
    const std::size_t buffered = sent - consumed;
    CHECK(in.HasPartialFrame() == (buffered > 0));
    if (buffered >= wire::kLengthPrefixBytes) {
      CHECK(buffered < wire::kLengthPrefixBytes + wire::DecodeLength(stream + consumed));
    }
    if (sent == stream_size) return 0;
    // One read: as much as fits of the next piece (the rest of the stream
    // after the last cut).
    std::size_t want = read_index < reads.size() ? std::max<std::size_t>(reads[read_index], 1)
                                                 : stream_size - sent;
    std::span<uint8_t> space = in.Space();
    CHECK(!space.empty());
    std::size_t n = std::min({want, space.size(), stream_size - sent});
    std::memcpy(space.data(), stream + sent, n);
    in.Commit(n);
    sent += n;
    if (read_index < reads.size()) {
      if (n == want) {
        ++read_index;
      } else {
        reads[read_index] -= n;
      }
    }
  }
}
