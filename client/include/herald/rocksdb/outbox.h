#pragma once
// Outbox: the transactional outbox for a service that keeps its state in
// RocksDB. The service stages an event in the same WriteBatch as its own
// change, so the change and the event are stored atomically: there is no
// moment where one exists without the other. A relay thread publishes staged
// events in order and deletes each once the broker has acknowledged it. If
// the broker is down, events wait in RocksDB and go out when it is back.
//
// Delivery is at-least-once: a crash between the broker's ack and the delete
// publishes an event again. Every event carries an "event-id" header (made
// here unless the message has one), so consumers deduplicate (see
// IdempotentConsumer).
//
// Thread: Add() and Notify() from any thread; the relay runs on its own thread
// and completes publishes on the Client's I/O thread.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "herald/client.h"

namespace herald {

class Outbox {
 public:
  static constexpr const char* kEventIdHeader = "event-id";

  struct Options {
    std::string key_prefix = "outbox/";   // keys: prefix + big-endian sequence
    std::chrono::milliseconds poll_interval{200};  // retry pace while the broker is away
    std::size_t max_in_flight = 512;
  };

  // *db, *cf and *client must outlive the Outbox. Starts the relay thread.
  Outbox(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, Client* client, Options options);
  Outbox(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, Client* client)
      : Outbox(db, cf, client, Options()) {}
  ~Outbox();  // stops the relay; unpublished events stay stored
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  // Stages `message` for `topic` in `batch`. Returns its event id. Call
  // Notify() after the batch is written, so the relay need not wait a poll.
  std::string Add(rocksdb::WriteBatch& batch, const std::string& topic, Message message);
  void Notify();

  // Events stored and not yet acknowledged by the broker.
  std::size_t Pending();

 private:
  void Run();
  void PublishSome();

  rocksdb::DB* db_;
  rocksdb::ColumnFamilyHandle* cf_;
  Client* client_;
  Options options_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;            // GUARDED_BY(mu_)
  bool notified_ = false;        // GUARDED_BY(mu_)
  uint64_t next_sequence_ = 0;   // GUARDED_BY(mu_)
  std::set<std::string> in_flight_;  // keys being published; GUARDED_BY(mu_)
  // Keys acked and deleted since the current scan began: its snapshot may
  // still show them, and they must not go out twice. GUARDED_BY(mu_)
  std::set<std::string> done_since_scan_;
  std::thread relay_;
};

}  // namespace herald
