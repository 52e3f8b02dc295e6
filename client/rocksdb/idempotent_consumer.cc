#include "herald/rocksdb/idempotent_consumer.h"

#include "herald/rocksdb/outbox.h"

namespace herald {

IdempotentConsumer::IdempotentConsumer(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
                                       std::string key_prefix)
    : db_(db), cf_(cf), key_prefix_(std::move(key_prefix)) {}

std::string IdempotentConsumer::EventId(const ReceivedMessage& message) {
  if (auto id = message.header(Outbox::kEventIdHeader)) return std::string(*id);
  return std::string(message.topic) + "/" + std::to_string(message.offset);
}

rocksdb::Status IdempotentConsumer::ApplyOnce(const ReceivedMessage& message,
                                              const std::function<void(rocksdb::WriteBatch&)>& apply,
                                              bool* applied) {
  std::string key = key_prefix_ + EventId(message);
  // The check and the write must not interleave with another ApplyOnce.
  std::lock_guard lock(mu_);
  std::string ignored;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf_, key, &ignored);
  if (s.ok()) {
    if (applied) *applied = false;
    return rocksdb::Status::OK();
  }
  if (!s.IsNotFound()) return s;
  rocksdb::WriteBatch batch;
  apply(batch);
  batch.Put(cf_, key, std::string(message.topic) + "@" + std::to_string(message.offset));
  rocksdb::WriteOptions wo;
  wo.sync = true;
  s = db_->Write(wo, &batch);
  if (applied) *applied = s.ok();
  return s;
}

}  // namespace herald
