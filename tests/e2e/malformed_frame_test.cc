// Hostile input against a real brokerd: each bad frame gets an error reply
// with the right code, its connection is closed, and other clients go on.

#include <catch2/catch.hpp>

#include "herald/client.h"
#include "tests/support/server_process.h"
#include "tests/support/raw_connection.h"
#include "tests/support/request_frames.h"

using namespace std::chrono_literals;
using herald::test::BrokerProcess;
using herald::test::RawConnection;
namespace wire = herald::wire;

using herald::test::ErrorOf;

TEST_CASE("e2e: bad frames get error codes and close only their connection", "[e2e][protocol]") {
  BrokerProcess broker;
  herald::Client bystander({.broker = broker.address()});
  REQUIRE_FALSE(bystander.CreateTopic("t"));

  SECTION("garbage bytes") {
    RawConnection raw(broker.port());
    REQUIRE(raw.Handshake());
    const char garbage[] = "\x20\x00\x00\x00this is not a flatbuffer at all!!";
    raw.SendBytes(garbage, sizeof garbage - 1);
    CHECK(ErrorOf(raw.ReadFrame()) == wire::ErrorCode::MalformedFrame);
    CHECK(raw.ClosedByPeer());
  }
  SECTION("a length prefix above the limit") {
    RawConnection raw(broker.port());
    const uint8_t huge[] = {0xff, 0xff, 0xff, 0x7f};
    raw.SendBytes(huge, sizeof huge);
    CHECK(ErrorOf(raw.ReadFrame()) == wire::ErrorCode::FrameTooLarge);
    CHECK(raw.ClosedByPeer());
  }
  SECTION("a frame that verifies but lacks its fields") {
    RawConnection raw(broker.port());
    REQUIRE(raw.Handshake());
    flatbuffers::FlatBufferBuilder fbb;
    wire::PublishBuilder empty(fbb);  // no topic, no messages
    raw.Send(wire::FinishFrame(fbb, 7, empty.Finish()));
    const wire::Frame* reply = raw.ReadFrame();
    CHECK(ErrorOf(reply) == wire::ErrorCode::MalformedFrame);
    CHECK(reply->request_id() == 7);
    CHECK(raw.ClosedByPeer());
  }
  SECTION("a union type without its value") {
    RawConnection raw(broker.port());
    REQUIRE(raw.Handshake());
    flatbuffers::FlatBufferBuilder fbb;
    wire::FrameBuilder frame(fbb);
    frame.add_request_id(9);
    frame.add_body_type(wire::Body::Publish);
    fbb.FinishSizePrefixed(frame.Finish());
    raw.SendBytes(fbb.GetBufferPointer(), fbb.GetSize());
    CHECK(ErrorOf(raw.ReadFrame()) == wire::ErrorCode::MalformedFrame);
    CHECK(raw.ClosedByPeer());
  }
  SECTION("a request before the handshake") {
    RawConnection raw(broker.port());
    flatbuffers::FlatBufferBuilder fbb;
    raw.Send(wire::FinishFrame(fbb, 3, wire::CreateListTopics(fbb)));
    CHECK(ErrorOf(raw.ReadFrame()) == wire::ErrorCode::HandshakeRequired);
    CHECK(raw.ClosedByPeer());
  }
  SECTION("a frame of length zero") {
    RawConnection raw(broker.port());
    const uint8_t zero[] = {0, 0, 0, 0};
    raw.SendBytes(zero, sizeof zero);
    CHECK(ErrorOf(raw.ReadFrame()) == wire::ErrorCode::MalformedFrame);
    CHECK(raw.ClosedByPeer());
  }
  SECTION("a broker-to-client body sent by a client") {
    RawConnection raw(broker.port());
    REQUIRE(raw.Handshake());
    flatbuffers::FlatBufferBuilder fbb;
    raw.Send(wire::FinishFrame(fbb, 4, wire::CreatePublishOk(fbb, 1, 1, false)));
    CHECK(ErrorOf(raw.ReadFrame()) == wire::ErrorCode::UnexpectedMessage);
    CHECK(raw.ClosedByPeer());
  }
  SECTION("bad values keep the connection open") {
    RawConnection raw(broker.port());
    REQUIRE(raw.Handshake());
    raw.Send(herald::test::PublishFrame(5, "missing", "x"));
    CHECK(ErrorOf(raw.ReadFrame()) == wire::ErrorCode::TopicNotFound);
    flatbuffers::FlatBufferBuilder fbb2;
    auto bad = fbb2.CreateString("no spaces allowed");
    raw.Send(wire::FinishFrame(fbb2, 6, wire::CreateCreateTopic(fbb2, bad)));
    CHECK(ErrorOf(raw.ReadFrame()) == wire::ErrorCode::InvalidTopicName);
    CHECK(raw.Handshake());  // still talking
  }
  SECTION("a payload above the limit") {
    RawConnection raw(broker.port());
    REQUIRE(raw.Handshake());
    raw.Send(herald::test::PublishFrame(8, "t", std::string((1u << 20) + 1, 'x')));
    CHECK(ErrorOf(raw.ReadFrame()) == wire::ErrorCode::PayloadTooLarge);
  }
  SECTION("a batch whose CRC does not match its bytes: MalformedFrame, then closed") {
    RawConnection raw(broker.port());
    REQUIRE(raw.Handshake());
    std::string batch = herald::test::BatchOf({"payload"});
    batch.back() ^= 1;
    raw.Send(herald::test::PublishBatchFrame(9, "t", batch));
    CHECK(ErrorOf(raw.ReadFrame()) == wire::ErrorCode::MalformedFrame);
    CHECK(raw.ClosedByPeer());
  }
  // Whatever the section did, the broker and the other client are fine.
  auto r = bystander.PublishSync("t", {.payload = "still here"});
  CHECK_FALSE(r.error);
  herald::TopicInfo info;
  REQUIRE_FALSE(bystander.DescribeTopic("t", &info));
  CHECK(info.next_offset == r.offset + 1);
}

TEST_CASE("e2e: a Hello of another protocol version, or of none, gets UnsupportedVersion and is closed",
          "[e2e][protocol]") {
  BrokerProcess broker;
  for (uint32_t version : {0u, 1u, wire::kProtocolVersion + 1}) {
    INFO("protocol_version " << version);
    RawConnection raw(broker.port());
    flatbuffers::FlatBufferBuilder fbb;
    auto name = fbb.CreateString("old-client");
    // 0 is the field's default: FlatBuffers leaves it out, as a Hello without the field.
    raw.Send(wire::FinishFrame(fbb, 1, wire::CreateHello(fbb, version, name)));
    const wire::Frame* reply = raw.ReadFrame();
    CHECK(ErrorOf(reply) == wire::ErrorCode::UnsupportedVersion);
    const auto* message = reply->body_as_ErrorReply()->message();
    REQUIRE(message != nullptr);
    CHECK_THAT(message->str(), Catch::Contains("this broker speaks protocol version " +
                                               std::to_string(wire::kProtocolVersion)));
    CHECK(raw.ClosedByPeer());
  }
  RawConnection current(broker.port());
  CHECK(current.Handshake());
}
