// Producer ids against a real brokerd: an id belongs to the connection that
// first publishes with it while that connection lives; a second claimant is
// refused (ProducerIdInUse) and closed instead of being told "duplicate" for
// batches that were never stored; once the first connection is gone the id is
// free again, with its sequences remembered. Sequences may not wrap.

#include <limits>

#include <catch2/catch.hpp>

#include "herald/client.h"
#include "tests/support/raw_connection.h"
#include "tests/support/request_frames.h"
#include "tests/support/server_process.h"

using namespace std::chrono_literals;
using herald::test::BrokerProcess;
using herald::test::ErrorOf;
using herald::test::RawConnection;
namespace wire = herald::wire;

namespace {

constexpr uint64_t kProducer = 0x5eed'0001;

wire::EncodedFrame Publish(uint64_t id, uint64_t producer_id, uint64_t base_sequence, int count) {
  return herald::test::PublishBatchFrame(id, "t", herald::test::BatchOf(std::vector<std::string>(count, "m")),
                                         producer_id, base_sequence);
}

const wire::PublishOk* PublishOk(const wire::Frame* reply) {
  return reply == nullptr ? nullptr : reply->body_as_PublishOk();
}

std::unique_ptr<RawConnection> Connected(const BrokerProcess& broker) {
  auto raw = std::make_unique<RawConnection>(broker.port());
  REQUIRE(raw->Handshake());
  return raw;
}

}  // namespace

TEST_CASE("producer id: a second connection cannot publish with an id another one holds", "[e2e][producer]") {
  BrokerProcess broker;
  herald::Client admin({.broker = broker.address()});
  REQUIRE_FALSE(admin.CreateTopic("t"));

  auto first = Connected(broker);
  REQUIRE(first->Send(Publish(1, kProducer, 1, 2)));
  const wire::PublishOk* ok = PublishOk(first->ReadFrame());
  REQUIRE(ok != nullptr);
  CHECK_FALSE(ok->duplicate());

  // The second claimant's batch (sequences 3..4, never stored) is refused, not
  // answered "duplicate"; the connection is closed, so nothing it sent behind
  // that batch is stored out of order.
  auto second = Connected(broker);
  REQUIRE(second->Send(Publish(1, kProducer, 3, 2)));
  REQUIRE(second->Send(Publish(2, kProducer, 5, 1)));
  CHECK(ErrorOf(second->ReadFrame()) == wire::ErrorCode::ProducerIdInUse);
  CHECK(second->ClosedByPeer());
  CHECK(admin.PublishSync("t", {.payload = "probe"}).offset == 2);  // nothing of the second's was stored

  // The holder carries on.
  REQUIRE(first->Send(Publish(2, kProducer, 3, 1)));
  ok = PublishOk(first->ReadFrame());
  REQUIRE(ok != nullptr);
  CHECK_FALSE(ok->duplicate());
  CHECK(ok->base_offset() == 3);

  // Once the holder is gone the id is free, and its sequences still count:
  // a resend of sequence 3 is a duplicate, sequence 4 is new.
  first.reset();
  std::unique_ptr<RawConnection> next;
  REQUIRE(herald::test::Eventually([&] {
    next = Connected(broker);
    REQUIRE(next->Send(Publish(1, kProducer, 3, 1)));
    return PublishOk(next->ReadFrame()) != nullptr;  // refused only while the broker still has the old one
  }, 10s, 20ms));
  REQUIRE(next->Send(Publish(2, kProducer, 4, 1)));
  ok = PublishOk(next->ReadFrame());
  REQUIRE(ok != nullptr);
  CHECK_FALSE(ok->duplicate());
  CHECK(ok->base_offset() == 4);
}

TEST_CASE("producer id: a batch whose last sequence would pass 2^64-1 is refused", "[e2e][producer]") {
  BrokerProcess broker;
  herald::Client admin({.broker = broker.address()});
  REQUIRE_FALSE(admin.CreateTopic("t"));
  auto raw = Connected(broker);
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  REQUIRE(raw->Send(Publish(1, kProducer, kMax, 2)));
  CHECK(ErrorOf(raw->ReadFrame()) == wire::ErrorCode::InvalidArgument);
  // Nothing was stored, and the producer's next batch is new.
  REQUIRE(raw->Send(Publish(2, kProducer, kMax - 1, 2)));
  const wire::PublishOk* ok = PublishOk(raw->ReadFrame());
  REQUIRE(ok != nullptr);
  CHECK_FALSE(ok->duplicate());
  CHECK(ok->base_offset() == 0);
}

TEST_CASE("producer id: the SDK publishes again after the broker dropped its connection", "[e2e][producer]") {
  // The broker closes connections idle for 300 ms; the SDK reconnects with
  // the same producer id, which the closed connection no longer holds.
  BrokerProcess broker({"--idle-timeout", "300ms"});
  herald::Client client({.broker = broker.address(), .reconnect_backoff_min = 10ms});
  REQUIRE_FALSE(client.CreateTopic("t"));
  herald::PublishResult r = client.PublishSync("t", {.payload = "before"});
  REQUIRE_FALSE(r.error);
  REQUIRE(herald::test::Eventually(
      [&] { return broker.LogTail().find("idle") != std::string::npos; }, 10s, 20ms));
  r = client.PublishSync("t", {.payload = "after"});
  CHECK_FALSE(r.error);
  CHECK_FALSE(r.duplicate);
  CHECK(r.offset == 1);
}
