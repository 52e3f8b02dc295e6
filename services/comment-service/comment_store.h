#pragma once
// CommentStore: the comment-service's RocksDB. A comment and its event are
// written in one atomic batch (the event through the transactional outbox),
// so a comment never exists without its event or the other way round.
//
// Only the writer of a comment may delete it: Add returns a delete token,
// random, which the store keeps only as its SHA-256; Remove needs the token.
//
// Keys: comment/<id> -> JSON of the comment (with "delete_token_sha256",
// which ForPost leaves out); post/<id> -> "" for each post
// the service knows of (learned from post-created); outbox/... (Outbox).

#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <rocksdb/db.h>

#include "herald/rocksdb/outbox.h"

namespace herald::services {

class CommentStore {
 public:
  // *db and *outbox must outlive the store.
  CommentStore(rocksdb::DB* db, Outbox* outbox) : db_(db), outbox_(outbox) {}

  bool KnowsPost(const std::string& post_id);
  rocksdb::Status RememberPost(const std::string& post_id);

  // Stores the comment and its comment-created event; returns the comment and
  // the token that deletes it.
  rocksdb::Status Add(const std::string& post_id, const std::string& author, const std::string& content,
                      nlohmann::json* comment, std::string* delete_token);

  enum class Removal { kRemoved, kNotFound, kWrongToken, kStorageError };
  // Removes the comment and stores its comment-deleted event, if
  // `delete_token` is the one Add returned for it.
  Removal Remove(const std::string& comment_id, const std::string& delete_token);
  // The post's comments, oldest first.
  std::vector<nlohmann::json> ForPost(const std::string& post_id);

 private:
  rocksdb::DB* db_;
  Outbox* outbox_;
  std::mutex mu_;  // a read-check-write of one comment is not interleaved with another
};

}  // namespace herald::services
