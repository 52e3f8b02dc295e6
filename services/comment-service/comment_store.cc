#include "comment_store.h"

#include "events.h"
#include "service.h"

namespace herald::services {

bool CommentStore::KnowsPost(const std::string& post_id) {
  std::string ignored;
  return db_->Get(rocksdb::ReadOptions(), "post/" + post_id, &ignored).ok();
}

rocksdb::Status CommentStore::RememberPost(const std::string& post_id) {
  return db_->Put(rocksdb::WriteOptions(), "post/" + post_id, "");
}

rocksdb::Status CommentStore::Add(const std::string& post_id, const std::string& author,
                                  const std::string& content, nlohmann::json* comment) {
  CommentEvent e{NewId(), NewId(), post_id, author, content, NowMs()};
  *comment = {{"id", e.comment_id}, {"post_id", post_id}, {"author", author}, {"content", content},
              {"created_at", Rfc3339(e.time_ms)}};
  std::lock_guard lock(mu_);
  rocksdb::WriteBatch batch;
  batch.Put("comment/" + e.comment_id, comment->dump());
  outbox_->Add(batch, kCommentCreated,
               Message{post_id, {{Outbox::kEventIdHeader, e.event_id}}, EncodeCommentCreated(e)});
  rocksdb::WriteOptions wo;
  wo.sync = true;
  rocksdb::Status s = db_->Write(wo, &batch);
  if (s.ok()) outbox_->Notify();
  return s;
}

rocksdb::Status CommentStore::Remove(const std::string& comment_id, nlohmann::json* comment) {
  std::lock_guard lock(mu_);
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), "comment/" + comment_id, &value);
  if (!s.ok()) return s;
  *comment = nlohmann::json::parse(value);
  CommentEvent e{NewId(), comment_id, (*comment)["post_id"], (*comment)["author"], "", NowMs()};
  rocksdb::WriteBatch batch;
  batch.Delete("comment/" + comment_id);
  outbox_->Add(batch, kCommentDeleted,
               Message{e.post_id, {{Outbox::kEventIdHeader, e.event_id}}, EncodeCommentDeleted(e)});
  rocksdb::WriteOptions wo;
  wo.sync = true;
  s = db_->Write(wo, &batch);
  if (s.ok()) outbox_->Notify();
  return s;
}

std::vector<nlohmann::json> CommentStore::ForPost(const std::string& post_id) {
  std::vector<nlohmann::json> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek("comment/"); it->Valid() && it->key().starts_with("comment/"); it->Next()) {
    auto c = nlohmann::json::parse(it->value().ToString(), nullptr, false);
    if (!c.is_discarded() && c["post_id"] == post_id) out.push_back(std::move(c));
  }
  // RFC 3339 UTC strings of one width sort as time does.
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a["created_at"] < b["created_at"]; });
  return out;
}

}  // namespace herald::services
