#pragma once
// PostStore: the post-service's RocksDB: posts, their comment counts, and the
// bookkeeping that makes counting exact under redelivery and reordering.
//
// Keys: post/<id> -> JSON; count/<post> -> decimal count;
//       time/<created_at>/<post> -> "" (the post list, oldest first);
//       meta/time-index -> "" (every post has its time/ key);
//       alive/<post>/<comment> -> "" (counted); gone/<comment> -> "" (deleted);
//       applied/<event id> (IdempotentConsumer); outbox/... (Outbox).
// The count of a post is the number of its comments that were created and
// not deleted, whatever order the two events arrive in: a delete that comes
// first leaves gone/<comment>, and the create that follows is not counted.
// Each applied comment event also publishes post-updated (the post's count
// after it) through the outbox, in the same batch.

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

  // Gives every post its time/ key, once per database (a database written
  // before the index existed lists no post without it). At start-up.
  rocksdb::Status IndexOldPosts();

  rocksdb::Status Create(const std::string& author, const std::string& title, const std::string& content,
                         nlohmann::json* post);
  std::optional<nlohmann::json> Get(const std::string& post_id);
  // Up to `limit` post cards (with an excerpt instead of the content), newest
  // first; with `before` (a post id) only the posts older than that post.
  // nullopt: `before` names no post.
  std::optional<std::vector<nlohmann::json>> Cards(std::size_t limit, const std::string& before);

  // Apply an event once (false status: not applied, do not ack).
  rocksdb::Status ApplyCommentCreated(const ReceivedMessage& m, const CommentEvent& e);
  rocksdb::Status ApplyCommentDeleted(const ReceivedMessage& m, const CommentEvent& e);

 private:
  int64_t Count(const std::string& post_id);
  bool Exists(const std::string& key);
  // Adds the post's post-updated event, with its count after `batch`, to `batch`.
  void AddPostUpdated(rocksdb::WriteBatch& batch, const std::string& post_id, int64_t count);

  rocksdb::DB* db_;
  Outbox* outbox_;
  IdempotentConsumer applied_;
};

}  // namespace herald::services
