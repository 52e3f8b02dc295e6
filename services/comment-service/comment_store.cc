#include "comment_store.h"

#include <array>
#include <random>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "events.h"
#include "service.h"

namespace herald::services {

namespace {

// 128 bits from the operating system's random source (libstdc++'s
// random_device reads getrandom or /dev/urandom), never a seeded PRNG: a
// token must not be guessable from others.
std::string NewDeleteToken() {
  std::random_device source;
  std::array<char, 16> bytes;
  for (std::size_t i = 0; i < bytes.size(); i += 4) {
    uint32_t word = source();
    for (std::size_t k = 0; k < 4; ++k) bytes[i + k] = static_cast<char>(word >> (8 * k));
  }
  return Hex(std::string_view(bytes.data(), bytes.size()));
}

std::string Sha256Hex(const std::string& text) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  return Hex(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

constexpr const char* kTokenHashField = "delete_token_sha256";

}  // namespace

bool CommentStore::KnowsPost(const std::string& post_id) {
  std::string ignored;
  return db_->Get(rocksdb::ReadOptions(), "post/" + post_id, &ignored).ok();
}

rocksdb::Status CommentStore::RememberPost(const std::string& post_id) {
  return db_->Put(rocksdb::WriteOptions(), "post/" + post_id, "");
}

rocksdb::Status CommentStore::Add(const std::string& post_id, const std::string& author,
                                  const std::string& content, nlohmann::json* comment, std::string* delete_token) {
  CommentEvent e{NewId(), NewId(), post_id, author, content, NowMs()};
  *comment = {{"id", e.comment_id}, {"post_id", post_id}, {"author", author}, {"content", content},
              {"created_at", Rfc3339(e.time_ms)}};
  *delete_token = NewDeleteToken();
  nlohmann::json stored = *comment;
  stored[kTokenHashField] = Sha256Hex(*delete_token);
  std::lock_guard lock(mu_);
  rocksdb::WriteBatch batch;
  batch.Put("comment/" + e.comment_id, stored.dump());
  outbox_->Add(batch, kCommentCreated,
               Message{post_id, {{Outbox::kEventIdHeader, e.event_id}}, EncodeCommentCreated(e)});
  rocksdb::WriteOptions wo;
  wo.sync = true;
  rocksdb::Status s = db_->Write(wo, &batch);
  if (s.ok()) outbox_->Notify();
  return s;
}

CommentStore::Removal CommentStore::Remove(const std::string& comment_id, const std::string& delete_token) {
  std::lock_guard lock(mu_);
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), "comment/" + comment_id, &value);
  if (s.IsNotFound()) return Removal::kNotFound;
  if (!s.ok()) return Removal::kStorageError;
  auto comment = nlohmann::json::parse(value);
  // A comment stored without a token hash can be deleted by nobody.
  std::string expected = comment.value(kTokenHashField, ""), given = Sha256Hex(delete_token);
  if (expected.size() != given.size() || CRYPTO_memcmp(expected.data(), given.data(), given.size()) != 0)
    return Removal::kWrongToken;
  CommentEvent e{NewId(), comment_id, comment["post_id"], comment["author"], "", NowMs()};
  rocksdb::WriteBatch batch;
  batch.Delete("comment/" + comment_id);
  outbox_->Add(batch, kCommentDeleted,
               Message{e.post_id, {{Outbox::kEventIdHeader, e.event_id}}, EncodeCommentDeleted(e)});
  rocksdb::WriteOptions wo;
  wo.sync = true;
  s = db_->Write(wo, &batch);
  if (!s.ok()) return Removal::kStorageError;
  outbox_->Notify();
  return Removal::kRemoved;
}

std::vector<nlohmann::json> CommentStore::ForPost(const std::string& post_id) {
  std::vector<nlohmann::json> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek("comment/"); it->Valid() && it->key().starts_with("comment/"); it->Next()) {
    auto c = nlohmann::json::parse(it->value().ToString(), nullptr, false);
    if (c.is_discarded() || c["post_id"] != post_id) continue;
    c.erase(kTokenHashField);
    out.push_back(std::move(c));
  }
  // RFC 3339 UTC strings of one width sort as time does.
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a["created_at"] < b["created_at"]; });
  return out;
}

}  // namespace herald::services
