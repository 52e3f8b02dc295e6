// Acks, nacks and deadline extensions through a real brokerd: they settle only
// what the group handed to that subscription. A second member of the group
// (here a raw connection) cannot settle, and so skip, another's deliveries.

#include <catch2/catch.hpp>

#include "herald/client.h"
#include "tests/support/raw_connection.h"
#include "tests/support/request_frames.h"
#include "tests/support/server_process.h"

using herald::test::BrokerProcess;
using herald::test::RawConnection;
namespace wire = herald::wire;

namespace {

// Subscribes with a window of one; returns the subscription id.
uint32_t Subscribe(RawConnection& raw, uint64_t id) {
  flatbuffers::FlatBufferBuilder fbb;
  auto t = fbb.CreateString("t"), g = fbb.CreateString("g");
  REQUIRE(raw.Send(wire::FinishFrame(fbb, id, wire::CreateSubscribe(fbb, t, g, wire::StartFrom::Earliest, 1))));
  const wire::Frame* ok = raw.ReadFrame();
  REQUIRE(ok != nullptr);
  REQUIRE(ok->body_as_SubscribeOk() != nullptr);
  return ok->body_as_SubscribeOk()->subscription_id();
}

uint64_t DeliveredOffset(RawConnection& raw) {
  const wire::Frame* f = raw.ReadFrame();
  REQUIRE(f != nullptr);
  REQUIRE(f->body_as_Deliver() != nullptr);
  const std::vector<uint64_t> offsets = herald::test::DeliveredOffsets(*f->body_as_Deliver());
  REQUIRE(offsets.size() == 1);
  return offsets[0];
}

template <class Make>
void CallOk(RawConnection& raw, uint64_t id, Make make) {
  flatbuffers::FlatBufferBuilder fbb;
  REQUIRE(raw.Send(wire::FinishFrame(fbb, id, make(fbb))));
  const wire::Frame* reply = raw.ReadFrame();
  REQUIRE(reply != nullptr);
  REQUIRE(reply->body_as_Ok() != nullptr);
}

}  // namespace

TEST_CASE("settlement: a member cannot ack or nack another member's delivery", "[e2e][groups]") {
  BrokerProcess broker;
  herald::Client admin({.broker = broker.address()});
  REQUIRE_FALSE(admin.CreateTopic("t"));
  for (int i = 0; i < 3; ++i) REQUIRE_FALSE(admin.PublishSync("t", {.payload = "m"}).error);

  RawConnection a(broker.port()), b(broker.port());
  REQUIRE(a.Handshake());
  REQUIRE(b.Handshake());
  uint32_t sub_a = Subscribe(a, 1);
  uint64_t held_by_a = DeliveredOffset(a);
  uint32_t sub_b = Subscribe(b, 1);
  uint64_t held_by_b = DeliveredOffset(b);
  REQUIRE(held_by_a != held_by_b);
  const uint64_t not_delivered = 3 - held_by_a - held_by_b;  // offsets 0, 1, 2

  // b names a's delivery and the one nobody holds yet.
  const std::vector<uint64_t> foreign{held_by_a, not_delivered};
  CallOk(b, 2, [&](auto& fbb) { return wire::CreateAck(fbb, sub_b, fbb.CreateVector(foreign)); });
  CallOk(b, 3, [&](auto& fbb) { return wire::CreateNack(fbb, sub_b, fbb.CreateVector(foreign)); });
  herald::GroupInfo g;
  REQUIRE_FALSE(admin.DescribeGroup("t", "g", &g));
  CHECK(g.ack_floor == 0);
  CHECK(g.in_flight == 2);
  CHECK(g.redeliveries == 0);

  // Each settles its own.
  CallOk(a, 2, [&](auto& fbb) {
    return wire::CreateAck(fbb, sub_a, fbb.CreateVector(std::vector<uint64_t>{held_by_a}));
  });
  CallOk(b, 4, [&](auto& fbb) {
    return wire::CreateAck(fbb, sub_b, fbb.CreateVector(std::vector<uint64_t>{held_by_b}));
  });
  REQUIRE_FALSE(admin.DescribeGroup("t", "g", &g));
  CHECK(g.ack_floor == 2);
}
