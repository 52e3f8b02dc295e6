#pragma once
// PostStore: the post-service's RocksDB: posts, their comment counts, and the
// bookkeeping that makes counting exact under redelivery and reordering.
//
// Keys: post/<id> -> JSON; count/<post> -> decimal count;
//       alive/<post>/<comment> -> "" (counted); gone/<comment> -> "" (deleted);
//       applied/<event id> (IdempotentConsumer); outbox/... (Outbox).
// The count of a post is the number of its comments that were created and
// not deleted, whatever order the two events arrive in: a delete that comes
// first leaves gone/<comment>, and the create that follows is not counted.

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <rocksdb/db.h>

#include "events.h"
#include "herald/rocksdb/idempotent_consumer.h"
#include "herald/rocksdb/outbox.h"

namespace herald::services {

class PostStore {
 public:
  PostStore(rocksdb::DB* db, Outbox* outbox) : db_(db), outbox_(outbox), applied_(db, db->DefaultColumnFamily()) {}

  rocksdb::Status Create(const std::string& author, const std::string& title, const std::string& content,
                         nlohmann::json* post);
  std::optional<nlohmann::json> Get(const std::string& post_id);
  // Post cards (with an excerpt instead of the content), newest first.
  std::vector<nlohmann::json> Cards();

  // Apply an event once (false status: not applied, do not ack).
  rocksdb::Status ApplyCommentCreated(const ReceivedMessage& m, const CommentEvent& e);
  rocksdb::Status ApplyCommentDeleted(const ReceivedMessage& m, const CommentEvent& e);

 private:
  int64_t Count(const std::string& post_id);
  bool Exists(const std::string& key);

  rocksdb::DB* db_;
  Outbox* outbox_;
  IdempotentConsumer applied_;
};

}  // namespace herald::services
