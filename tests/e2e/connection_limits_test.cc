// Clients that hold resources without using them: silent connections, half
// frames, too many connections; and a graceful stop under load.

#include <map>
#include <optional>
#include <mutex>

#include <catch2/catch.hpp>

#include "herald/client.h"
#include "tests/support/raw_connection.h"
#include "tests/support/server_process.h"

using namespace std::chrono_literals;
using herald::test::BrokerProcess;
using herald::test::Eventually;
using herald::test::RawConnection;
namespace wire = herald::wire;

using herald::test::ErrorOf;

TEST_CASE("e2e: stalled and surplus connections are closed while the rest are served", "[e2e][limits]") {
  BrokerProcess broker({"--handshake-timeout-ms", "300", "--frame-timeout-ms", "300", "--max-connections", "4"});
  herald::Client client({.broker = broker.address()});
  REQUIRE_FALSE(client.CreateTopic("t"));

  SECTION("a client that connects and never speaks") {
    RawConnection silent(broker.port());
    CHECK(ErrorOf(silent.ReadFrame(5s)) == wire::ErrorCode::TimedOut);
    CHECK(silent.ClosedByPeer());
  }
  SECTION("a client that sends half a frame and stalls") {
    RawConnection half(broker.port());
    REQUIRE(half.Handshake());
    std::this_thread::sleep_for(500ms);  // idle between frames is fine
    const uint8_t prefix[] = {64, 0, 0, 0, 1, 2, 3};
    half.SendBytes(prefix, sizeof prefix);
    CHECK(ErrorOf(half.ReadFrame(5s)) == wire::ErrorCode::TimedOut);
    CHECK(half.ClosedByPeer());
  }
  SECTION("connections above the limit are refused until one closes") {
    // The SDK client holds one connection; three more reach the limit of four.
    std::vector<std::unique_ptr<RawConnection>> held;
    for (int i = 0; i < 3; ++i) {
      held.push_back(std::make_unique<RawConnection>(broker.port()));
      REQUIRE(held.back()->Handshake());
    }
    RawConnection surplus(broker.port());
    CHECK(ErrorOf(surplus.ReadFrame()) == wire::ErrorCode::TooManyConnections);
    CHECK(surplus.ClosedByPeer());
    held.pop_back();
    REQUIRE(Eventually([&] {
      RawConnection again(broker.port());
      return again.Handshake();
    }, 5s, 50ms));
  }
  CHECK_FALSE(client.PublishSync("t", {.payload = "still served"}).error);
}

TEST_CASE("e2e: SIGTERM lets in-flight publishes finish and exits 0", "[e2e][limits]") {
  BrokerProcess broker;
  herald::Client producer({.broker = broker.address(), .request_timeout = 60s});
  REQUIRE_FALSE(producer.CreateTopic("t"));
  std::mutex mu;
  std::map<std::string, std::optional<uint64_t>> acked;  // offset, when the ack named one
  std::atomic<bool> stop{false};
  std::thread publishing([&] {
    for (int i = 0; i < 20'000 && !stop; ++i) {
      std::string payload = "m" + std::to_string(i);
      producer.Publish("t", {.payload = payload}, [&, payload](const herald::PublishResult& r) {
        std::lock_guard lock(mu);
        if (r.error) return;
        // A retry the broker had stored before may come back without its offset.
        acked[payload] = r.duplicate ? std::nullopt : std::optional<uint64_t>(r.offset);
      });
      if (i % 100 == 0) std::this_thread::sleep_for(1ms);
    }
  });
  std::this_thread::sleep_for(200ms);
  auto before = std::chrono::steady_clock::now();
  int status = broker.Stop(10s);
  CHECK(status == 0);
  CHECK(std::chrono::steady_clock::now() - before < 10s);
  broker.Restart();
  publishing.join();
  REQUIRE_FALSE(producer.Flush(60s));

  herald::TopicInfo info;
  REQUIRE_FALSE(producer.DescribeTopic("t", &info));
  std::map<uint64_t, std::string> log;
  herald::Client reader({.broker = broker.address()});
  REQUIRE_FALSE(reader.Subscribe({.topic = "t", .group = "audit"}, [&](const herald::Delivery& d) {
    std::lock_guard lock(mu);
    log[d.message().offset] = d.message().payload;
    d.ack();
  }));
  REQUIRE(Eventually([&] {
    std::lock_guard lock(mu);
    return log.size() == info.next_offset;
  }, 30s));
  std::lock_guard lock(mu);
  std::map<std::string, int> copies;
  for (auto& [offset, payload] : log) ++copies[payload];
  for (auto& [payload, offset] : acked) {
    INFO(payload);
    CHECK(copies[payload] == 1);
    if (offset) CHECK(log[*offset] == payload);  // at the offset its ack named
  }
}

TEST_CASE("e2e: idle connections are closed, subscribers and busy ones are not", "[e2e][limits]") {
  BrokerProcess broker({"--idle-timeout", "400ms"});
  herald::Client admin({.broker = broker.address()});
  REQUIRE_FALSE(admin.CreateTopic("t"));

  RawConnection idle(broker.port());
  REQUIRE(idle.Handshake());
  RawConnection busy(broker.port());
  REQUIRE(busy.Handshake());
  RawConnection subscriber(broker.port());
  REQUIRE(subscriber.Handshake());
  {
    flatbuffers::FlatBufferBuilder fbb;
    auto topic = fbb.CreateString("t"), group = fbb.CreateString("g");
    REQUIRE(subscriber.Send(wire::FinishFrame(fbb, 2, wire::CreateSubscribe(fbb, topic, group))));
    const wire::Frame* ok = subscriber.ReadFrame();
    REQUIRE(ok != nullptr);
    REQUIRE(ok->body_as_SubscribeOk() != nullptr);
  }
  // The busy one asks for the topic list every 100 ms for 1.2 s (three idle timeouts).
  for (int i = 0; i < 12; ++i) {
    flatbuffers::FlatBufferBuilder fbb;
    wire::ListTopicsBuilder list(fbb);
    REQUIRE(busy.Send(wire::FinishFrame(fbb, 10 + static_cast<uint64_t>(i), list.Finish())));
    const wire::Frame* reply = busy.ReadFrame();
    REQUIRE(reply != nullptr);
    REQUIRE(reply->body_as_TopicList() != nullptr);
    std::this_thread::sleep_for(100ms);
  }
  // By now the idle one got TimedOut and was closed; the others were not.
  CHECK(ErrorOf(idle.ReadFrame(100ms)) == wire::ErrorCode::TimedOut);
  CHECK(idle.ClosedByPeer(100ms));
  CHECK_FALSE(subscriber.ClosedByPeer(10ms));
  CHECK_FALSE(busy.ClosedByPeer(10ms));
  REQUIRE_FALSE(admin.PublishSync("t", {.payload = "for the subscriber"}).error);
  const wire::Frame* deliver = subscriber.ReadFrame();
  REQUIRE(deliver != nullptr);
  CHECK(deliver->body_as_Deliver() != nullptr);
}
