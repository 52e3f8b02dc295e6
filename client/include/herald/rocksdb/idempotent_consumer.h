#pragma once
// IdempotentConsumer: applies each event to a service's RocksDB state exactly
// once, however often the broker (or an outbox relay) delivers it. The state
// change and the record "this event was applied" are one atomic, synced
// WriteBatch, so a crash can never leave one without the other; a redelivered
// or duplicated event finds its record and changes nothing.
//
// Events are identified by their "event-id" header (set by Outbox), or by
// topic and offset when they have none.
//
// Thread: any; ApplyOnce calls are serialized internally.

#include <functional>
#include <mutex>
#include <string>

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "herald/message.h"

namespace herald {

class IdempotentConsumer {
 public:
  // *db and *cf must outlive this object. Applied-event records are stored
  // under key_prefix + event id.
  IdempotentConsumer(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
                     std::string key_prefix = "applied/");

  // If `message` was not applied before, runs apply(batch) and writes the
  // batch together with the applied record. *applied tells which happened.
  // A non-ok status means nothing was written (do not ack the message).
  rocksdb::Status ApplyOnce(const ReceivedMessage& message,
                            const std::function<void(rocksdb::WriteBatch&)>& apply,
                            bool* applied = nullptr);

  static std::string EventId(const ReceivedMessage& message);

 private:
  rocksdb::DB* db_;
  rocksdb::ColumnFamilyHandle* cf_;
  std::string key_prefix_;
  std::mutex mu_;
};

}  // namespace herald
