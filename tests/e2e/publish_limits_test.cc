// A Publish is bounded by what it decodes to, not by its frame: FlatBuffers
// lets the messages vector point many times at one Message, so a frame of
// 64 KiB can name megabytes. The broker refuses such a Publish before it
// builds anything, stores none of it, and keeps serving the connection.

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "herald/client.h"
#include "tests/support/raw_connection.h"
#include "tests/support/server_process.h"

using namespace std::chrono_literals;
using herald::test::BrokerProcess;
using herald::test::ErrorOf;
using herald::test::RawConnection;
namespace wire = herald::wire;

namespace {

constexpr double kMiBf = 1024.0 * 1024.0;

// A Publish whose `references` messages are all one Message of `payload_bytes`.
wire::EncodedFrame SharedMessagePublish(uint64_t request_id, const std::string& topic,
                                        std::size_t references, std::size_t payload_bytes) {
  flatbuffers::FlatBufferBuilder fbb(payload_bytes + references * 4 + 256);
  auto message = wire::CreateMessage(fbb, 0, 0, wire::CreateBytes(fbb, std::string(payload_bytes, 'x')));
  std::vector<flatbuffers::Offset<wire::Message>> messages(references, message);
  auto vec = fbb.CreateVector(messages);
  return wire::FinishFrame(fbb, request_id, wire::CreatePublish(fbb, fbb.CreateString(topic), 0, 0, vec));
}

wire::EncodedFrame EmptyMessagesPublish(uint64_t request_id, const std::string& topic, std::size_t count) {
  flatbuffers::FlatBufferBuilder fbb(count * 4 + 256);
  auto message = wire::CreateMessage(fbb);
  std::vector<flatbuffers::Offset<wire::Message>> messages(count, message);
  auto vec = fbb.CreateVector(messages);
  return wire::FinishFrame(fbb, request_id, wire::CreatePublish(fbb, fbb.CreateString(topic), 0, 0, vec));
}

const wire::PublishOk* PublishOkOf(const wire::Frame* frame) {
  REQUIRE(frame != nullptr);
  INFO("reply body type " << static_cast<int>(frame->body_type()));
  REQUIRE(frame->body_type() == wire::Body::PublishOk);
  return frame->body_as_PublishOk();
}

// HERALD_ATTACK_REPEAT sets how many attack frames the RSS case sends (for a
// by-hand measurement of old and new brokers; the default keeps CI short).
int AttackRepeat() {
  const char* text = std::getenv("HERALD_ATTACK_REPEAT");
  return text != nullptr ? std::max(1, std::atoi(text)) : 8;
}

}  // namespace

TEST_CASE("e2e: a Publish that decodes above the publish limit is refused and stores nothing",
          "[e2e][protocol][limits]") {
  BrokerProcess broker;
  herald::Client admin({.broker = broker.address()});
  REQUIRE_FALSE(admin.CreateTopic("t"));
  RawConnection raw(broker.port());
  REQUIRE(raw.Handshake());

  // 200 references to one 64 KiB message: a 64 KiB frame that decodes to 12.5 MiB.
  const wire::EncodedFrame attack = SharedMessagePublish(1, "t", 200, 64 << 10);
  REQUIRE(attack.size() < (70u << 10));
  REQUIRE(raw.Send(attack));
  const wire::Frame* reply = raw.ReadFrame(10s);
  CHECK(ErrorOf(reply) == wire::ErrorCode::PayloadTooLarge);
  CHECK(reply->request_id() == 1);

  // Too many messages, however small: 100,000 references to an empty message.
  REQUIRE(raw.Send(EmptyMessagesPublish(2, "t", 100'000)));
  CHECK(ErrorOf(raw.ReadFrame(10s)) == wire::ErrorCode::PayloadTooLarge);

  // The connection goes on, and a Publish within the limits is stored at offset 0:
  // nothing of the refused ones took an offset.
  REQUIRE(raw.Send(SharedMessagePublish(3, "t", 3, 100)));
  const wire::PublishOk* ok = PublishOkOf(raw.ReadFrame(10s));
  CHECK(ok->base_offset() == 0);
  CHECK(ok->count() == 3);
  herald::TopicInfo info;
  REQUIRE_FALSE(admin.DescribeTopic("t", &info));
  CHECK(info.next_offset == 3);
}

TEST_CASE("e2e: the publish limits are the broker's flags, and HelloOk announces them",
          "[e2e][protocol][limits]") {
  BrokerProcess broker({"--max-publish-bytes", "64KiB", "--max-publish-messages", "10"});
  herald::Client admin({.broker = broker.address()});
  REQUIRE_FALSE(admin.CreateTopic("t"));
  RawConnection raw(broker.port());
  REQUIRE(raw.SendHello());
  const wire::Frame* hello = raw.ReadFrame();
  REQUIRE(hello != nullptr);
  REQUIRE(hello->body_type() == wire::Body::HelloOk);
  CHECK(hello->body_as_HelloOk()->max_publish_bytes() == 64u << 10);
  CHECK(hello->body_as_HelloOk()->max_publish_messages() == 10);

  REQUIRE(raw.Send(SharedMessagePublish(1, "t", 11, 1)));
  CHECK(ErrorOf(raw.ReadFrame()) == wire::ErrorCode::PayloadTooLarge);
  REQUIRE(raw.Send(SharedMessagePublish(2, "t", 2, 40 << 10)));  // 80 KiB decoded
  CHECK(ErrorOf(raw.ReadFrame()) == wire::ErrorCode::PayloadTooLarge);
  REQUIRE(raw.Send(SharedMessagePublish(3, "t", 10, 1000)));
  CHECK(PublishOkOf(raw.ReadFrame())->count() == 10);

  // The SDK packs its batches within what HelloOk announced: 25 messages of
  // 5 KB published at once all go through, in frames of at most 10.
  std::vector<herald::PublishResult> results(25);
  std::atomic<int> done{0};
  for (int i = 0; i < 25; ++i) {
    admin.Publish("t", {.payload = std::string(5000, 'a')}, [&, i](const herald::PublishResult& r) {
      results[i] = r;
      ++done;
    });
  }
  REQUIRE(herald::test::Eventually([&] { return done == 25; }, 20s));
  for (const auto& r : results) CHECK_FALSE(r.error);
  herald::TopicInfo info;
  REQUIRE_FALSE(admin.DescribeTopic("t", &info));
  CHECK(info.next_offset == 35);
}

TEST_CASE("e2e: publish frames that name far more than they hold do not grow the broker",
          "[e2e][protocol][limits][memory]") {
  BrokerProcess broker;
  herald::Client admin({.broker = broker.address()});
  REQUIRE_FALSE(admin.CreateTopic("t"));
  RawConnection raw(broker.port());
  REQUIRE(raw.Handshake());
  REQUIRE(raw.Send(SharedMessagePublish(1, "t", 1, 100)));
  REQUIRE(raw.ReadFrame() != nullptr);
  const std::size_t before = broker.RssBytes();

  // Each frame: 1,000 references to one 1 MiB message (1 GiB decoded).
  const int repeat = AttackRepeat();
  int refused = 0;
  for (int i = 0; i < repeat; ++i) {
    REQUIRE(raw.Send(SharedMessagePublish(10 + i, "t", 1000, 1 << 20)));
    const wire::Frame* reply = raw.ReadFrame(120s);
    if (reply != nullptr && reply->body_type() == wire::Body::ErrorReply) ++refused;
  }
  const std::size_t after = broker.RssBytes();
  std::printf("publish limits: %d frames of 1,000 x 1 MiB references: broker RSS %.1f -> %.1f MiB\n",
              repeat, static_cast<double>(before) / kMiBf, static_cast<double>(after) / kMiBf);
  CHECK(refused == repeat);
  CHECK(after < before + herald::test::kRssGrowthFactor * (32u << 20));
  herald::TopicInfo info;
  REQUIRE_FALSE(admin.DescribeTopic("t", &info));
  CHECK(info.next_offset == 1);
}
