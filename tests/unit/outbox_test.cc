// The SDK's RocksDB helpers against the in-process broker: the outbox relay
// and the idempotent consumer.

#include "herald/rocksdb/outbox.h"

#include <mutex>

#include <catch2/catch.hpp>

#include "herald/rocksdb/idempotent_consumer.h"
#include "herald/testing/in_process_broker.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"

using namespace std::chrono_literals;
using herald::test::Eventually;

namespace {

std::unique_ptr<rocksdb::DB> OpenDb(const std::string& dir) {
  rocksdb::Options o;
  o.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  REQUIRE(rocksdb::DB::Open(o, dir, &raw).ok());
  return std::unique_ptr<rocksdb::DB>(raw);
}

}  // namespace

TEST_CASE("outbox: staged events are published in order, tagged, and removed once acked", "[unit][outbox]") {
  herald::testing::InProcessBroker broker;
  herald::test::TempDir dir;
  auto db = OpenDb(dir.str());
  herald::Client client({.broker = broker.address()});
  REQUIRE_FALSE(client.CreateTopic("events"));
  std::vector<std::string> ids;
  {
    herald::Outbox outbox(db.get(), db->DefaultColumnFamily(), &client);
    for (int i = 0; i < 200; ++i) {
      rocksdb::WriteBatch batch;
      batch.Put("state/" + std::to_string(i), "x");  // the service's own change
      ids.push_back(outbox.Add(batch, "events", {.payload = "e" + std::to_string(i)}));
      REQUIRE(db->Write(rocksdb::WriteOptions(), &batch).ok());
      outbox.Notify();
    }
    REQUIRE(Eventually([&] { return outbox.Pending() == 0; }, 20s));
  }
  std::mutex mu;
  std::vector<std::pair<std::string, std::string>> got;  // (payload, event id)
  REQUIRE_FALSE(client.Subscribe({.topic = "events", .group = "check"}, [&](const herald::Delivery& d) {
    std::lock_guard lock(mu);
    got.emplace_back(d.message().payload, *d.message().header(herald::Outbox::kEventIdHeader));
    d.ack();
  }));
  REQUIRE(Eventually([&] {
    std::lock_guard lock(mu);
    return got.size() >= 200;
  }));
  std::lock_guard lock(mu);
  REQUIRE(got.size() == 200);
  for (int i = 0; i < 200; ++i) {
    CHECK(got[i].first == "e" + std::to_string(i));
    CHECK(got[i].second == ids[i]);
  }
}

TEST_CASE("outbox: events staged while the broker is unreachable go out when it is back", "[unit][outbox]") {
  herald::test::TempDir dir;
  auto db = OpenDb(dir.str());
  herald::testing::InProcessBroker broker;
  {
    herald::Client admin({.broker = broker.address()});
    REQUIRE_FALSE(admin.CreateTopic("events"));
  }
  // A client pointed at the broker's address after the broker went away.
  herald::Client client({.broker = broker.address()});
  herald::Outbox outbox(db.get(), db->DefaultColumnFamily(), &client,
                        herald::Outbox::Options{.poll_interval = 50ms});
  broker.Restart();  // the connection drops; the relay keeps the events until acks come
  for (int i = 0; i < 20; ++i) {
    rocksdb::WriteBatch batch;
    outbox.Add(batch, "events", {.payload = "late" + std::to_string(i)});
    REQUIRE(db->Write(rocksdb::WriteOptions(), &batch).ok());
  }
  outbox.Notify();
  REQUIRE(Eventually([&] { return outbox.Pending() == 0; }, 20s));
  herald::TopicInfo info;
  REQUIRE_FALSE(client.DescribeTopic("events", &info));
  CHECK(info.next_offset >= 20);
}

TEST_CASE("idempotent_consumer: an event id is applied once, whatever the deliveries", "[unit][idempotent_consumer]") {
  herald::test::TempDir dir;
  auto db = OpenDb(dir.str());
  herald::IdempotentConsumer consumer(db.get(), db->DefaultColumnFamily());
  herald::ReceivedMessage m;
  m.topic = "t";
  m.offset = 7;
  m.headers.push_back({"event-id", "abc"});
  int applied_count = 0;
  auto apply = [&](rocksdb::WriteBatch& b) {
    ++applied_count;
    b.Put("counter", std::to_string(applied_count));
  };
  bool applied = false;
  REQUIRE(consumer.ApplyOnce(m, apply, &applied).ok());
  CHECK(applied);
  m.offset = 9;  // the same event again, republished at another offset
  REQUIRE(consumer.ApplyOnce(m, apply, &applied).ok());
  CHECK_FALSE(applied);
  CHECK(applied_count == 1);
  std::string value;
  REQUIRE(db->Get(rocksdb::ReadOptions(), "counter", &value).ok());
  CHECK(value == "1");
  // Without an event id, topic and offset identify the message.
  herald::ReceivedMessage plain;
  plain.topic = "t";
  plain.offset = 1;
  CHECK(herald::IdempotentConsumer::EventId(plain) == "t/1");
}
