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
#include "schemas/crc32c.h"
#include "schemas/record_batch.h"
#include "tests/support/raw_connection.h"
#include "tests/support/request_frames.h"
#include "tests/support/server_process.h"

using namespace std::chrono_literals;
using herald::test::BrokerProcess;
using herald::test::ErrorOf;
using herald::test::RawConnection;
namespace wire = herald::wire;

namespace {

constexpr double kMiBf = 1024.0 * 1024.0;

// A Publish of `count` messages of `payload_bytes` each.
wire::EncodedFrame PublishOf(uint64_t request_id, const std::string& topic, std::size_t count,
                             std::size_t payload_bytes) {
  return herald::test::PublishFrame(request_id, topic, std::vector<std::string>(count, std::string(payload_bytes, 'x')));
}

// A batch of one record whose header claims `claimed` records, CRC set.
std::string OverclaimingBatch(uint32_t claimed) {
  std::string batch = herald::test::BatchOf({"m"});
  for (int i = 0; i < 4; ++i) batch[wire::batch::kCountOffset + i] = static_cast<char>(claimed >> (8 * i));
  const uint32_t crc = herald::crc32c::Extend(0, batch.data() + wire::batch::kCrcStart, batch.size() - wire::batch::kCrcStart);
  for (int i = 0; i < 4; ++i) batch[wire::batch::kCrcOffset + i] = static_cast<char>(crc >> (8 * i));
  return batch;
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

TEST_CASE("e2e: a Publish above the publish limit is refused and stores nothing",
          "[e2e][protocol][limits]") {
  BrokerProcess broker;
  herald::Client admin({.broker = broker.address()});
  REQUIRE_FALSE(admin.CreateTopic("t"));
  RawConnection raw(broker.port());
  REQUIRE(raw.Handshake());

  // Too many messages, however small: 100,000 empty ones.
  REQUIRE(raw.Send(PublishOf(2, "t", 100'000, 0)));
  const wire::Frame* reply = raw.ReadFrame(10s);
  CHECK(ErrorOf(reply) == wire::ErrorCode::PayloadTooLarge);
  CHECK(reply->request_id() == 2);

  // The connection goes on, and a Publish within the limits is stored at offset 0:
  // nothing of the refused ones took an offset.
  REQUIRE(raw.Send(PublishOf(3, "t", 3, 100)));
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

  REQUIRE(raw.Send(PublishOf(1, "t", 11, 1)));
  CHECK(ErrorOf(raw.ReadFrame()) == wire::ErrorCode::PayloadTooLarge);
  REQUIRE(raw.Send(PublishOf(2, "t", 2, 40 << 10)));  // an 80 KiB batch
  CHECK(ErrorOf(raw.ReadFrame()) == wire::ErrorCode::PayloadTooLarge);
  REQUIRE(raw.Send(PublishOf(3, "t", 10, 1000)));
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

TEST_CASE("e2e: batches that claim far more records than they hold are refused and do not grow the broker",
          "[e2e][protocol][limits][memory]") {
  BrokerProcess broker;
  herald::Client admin({.broker = broker.address()});
  REQUIRE_FALSE(admin.CreateTopic("t"));
  {
    RawConnection raw(broker.port());
    REQUIRE(raw.Handshake());
    REQUIRE(raw.Send(PublishOf(1, "t", 1, 100)));
    REQUIRE(raw.ReadFrame() != nullptr);
  }
  const std::size_t before = broker.RssBytes();

  // Each: one record, a header claiming 60,000 (within the message limit) and
  // a valid CRC: only the walk over the records can tell.
  const int repeat = AttackRepeat() * 100;
  int refused = 0;
  for (int i = 0; i < repeat; ++i) {
    RawConnection raw(broker.port());
    REQUIRE(raw.Handshake());
    REQUIRE(raw.Send(herald::test::PublishBatchFrame(10 + i, "t", OverclaimingBatch(60'000))));
    const wire::Frame* reply = raw.ReadFrame(10s);
    if (reply != nullptr && ErrorOf(reply) == wire::ErrorCode::MalformedFrame) ++refused;
    CHECK(raw.ClosedByPeer());
  }
  const std::size_t after = broker.RssBytes();
  std::printf("publish limits: %d over-claiming batches: broker RSS %.1f -> %.1f MiB\n",
              repeat, static_cast<double>(before) / kMiBf, static_cast<double>(after) / kMiBf);
  CHECK(refused == repeat);
  CHECK(after < before + herald::test::kRssGrowthFactor * (32u << 20));
  herald::TopicInfo info;
  REQUIRE_FALSE(admin.DescribeTopic("t", &info));
  CHECK(info.next_offset == 1);
}
