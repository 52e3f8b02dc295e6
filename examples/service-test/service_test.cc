// What a service's own test does with the SDK's components: runs the real
// broker in-process, publishes three events, and applies each delivery to a
// RocksDB counter through IdempotentConsumer, then delivers the first one a
// second time, which must change nothing. Exit 0 and "ok" when the stored counter is 3.

#include <rocksdb/db.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "herald/client.h"
#include "herald/rocksdb/idempotent_consumer.h"
#include "herald/testing/in_process_broker.h"

using namespace std::chrono_literals;

int main() {
  herald::testing::InProcessBroker broker;
  herald::Client client({.broker = broker.address()});

  std::filesystem::path dir = broker.data_dir() + "-service-state";
  rocksdb::Options db_options;
  db_options.create_if_missing = true;
  rocksdb::DB* raw_db = nullptr;
  if (rocksdb::Status s = rocksdb::DB::Open(db_options, dir.string(), &raw_db); !s.ok()) {
    std::cerr << "open " << dir << ": " << s.ToString() << "\n";
    return 1;
  }
  std::unique_ptr<rocksdb::DB> db(raw_db);
  herald::IdempotentConsumer consumer(db.get(), db->DefaultColumnFamily());
  int counter = 0;  // the state; each applied event adds one, in the same batch as its record
  auto increment = [&](rocksdb::WriteBatch& batch) { batch.Put("counter", std::to_string(++counter)); };

  if (client.CreateTopic("events")) return 1;
  for (int i = 0; i < 3; ++i) {
    if (client.PublishSync("events", {.payload = "event"}).error) return 1;
  }
  std::mutex mu;
  std::condition_variable cv;
  int delivered = 0;
  std::optional<herald::OwnedMessage> first;
  auto handler = [&](const herald::Delivery& d) {
    std::lock_guard lock(mu);
    if (!consumer.ApplyOnce(d.message(), increment).ok()) return;  // not acked: redelivered
    d.ack();
    if (!first) first = d.message().ToOwned();
    ++delivered;
    cv.notify_one();
  };
  herald::SubscriptionId id = 0;
  if (client.Subscribe({.topic = "events", .group = "counter"}, handler, &id)) return 1;
  std::unique_lock lock(mu);
  if (!cv.wait_for(lock, 30s, [&] { return delivered >= 3; })) return 1;
  bool applied = true;
  consumer.ApplyOnce(first->View(), increment, &applied);  // a redelivery of the first event
  lock.unlock();
  client.Unsubscribe(id);
  std::string stored;
  db->Get(rocksdb::ReadOptions(), "counter", &stored);
  db.reset();
  std::filesystem::remove_all(dir);
  bool ok = stored == "3" && !applied;
  std::cout << (ok ? "ok" : "FAILED") << ": stored counter " << stored
            << ", redelivered event applied again: " << (applied ? "yes" : "no") << "\n";
  return ok ? 0 : 1;
}
