#include "post_store.h"

#include "service.h"

namespace herald::services {

bool PostStore::Exists(const std::string& key) {
  std::string ignored;
  return db_->Get(rocksdb::ReadOptions(), key, &ignored).ok();
}

int64_t PostStore::Count(const std::string& post_id) {
  std::string value;
  if (!db_->Get(rocksdb::ReadOptions(), "count/" + post_id, &value).ok()) return 0;
  return std::stoll(value);
}

rocksdb::Status PostStore::Create(const std::string& author, const std::string& title,
                                  const std::string& content, nlohmann::json* post) {
  PostEvent e{NewId(), NewId(), author, title, NowMs()};
  *post = {{"id", e.post_id}, {"author", author}, {"title", title}, {"content", content},
           {"created_at", Rfc3339(e.time_ms)}};
  rocksdb::WriteBatch batch;
  batch.Put("post/" + e.post_id, post->dump());
  batch.Put("count/" + e.post_id, "0");
  outbox_->Add(batch, kPostCreated, Message{e.post_id, {{Outbox::kEventIdHeader, e.event_id}}, EncodePostCreated(e)});
  rocksdb::WriteOptions wo;
  wo.sync = true;
  rocksdb::Status s = db_->Write(wo, &batch);
  if (s.ok()) outbox_->Notify();
  (*post)["comment_count"] = 0;
  return s;
}

std::optional<nlohmann::json> PostStore::Get(const std::string& post_id) {
  std::string value;
  if (!db_->Get(rocksdb::ReadOptions(), "post/" + post_id, &value).ok()) return std::nullopt;
  auto post = nlohmann::json::parse(value);
  post["comment_count"] = Count(post_id);
  return post;
}

std::vector<nlohmann::json> PostStore::Cards() {
  constexpr std::size_t kExcerptBytes = 160;
  std::vector<nlohmann::json> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek("post/"); it->Valid() && it->key().starts_with("post/"); it->Next()) {
    auto post = nlohmann::json::parse(it->value().ToString());
    std::string content = post.value("content", "");
    if (content.size() > kExcerptBytes) {
      std::size_t cut = kExcerptBytes;
      while (cut > 0 && (static_cast<unsigned char>(content[cut]) & 0xC0) == 0x80) --cut;  // not mid-character
      content = content.substr(0, cut) + "…";
    }
    out.push_back({{"id", post["id"]}, {"author", post["author"]}, {"title", post["title"]},
                   {"excerpt", content}, {"comment_count", Count(post["id"])}, {"created_at", post["created_at"]}});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a["created_at"] > b["created_at"]; });
  return out;
}

// Both run inside ApplyOnce, which serializes them: the reads below see every
// earlier event's writes.
rocksdb::Status PostStore::ApplyCommentCreated(const ReceivedMessage& m, const CommentEvent& e) {
  return applied_.ApplyOnce(m, [&](rocksdb::WriteBatch& batch) {
    std::string alive = "alive/" + e.post_id + "/" + e.comment_id;
    if (Exists("gone/" + e.comment_id) || Exists(alive)) return;  // deleted first, or counted
    batch.Put(alive, "");
    batch.Put("count/" + e.post_id, std::to_string(Count(e.post_id) + 1));
  });
}

rocksdb::Status PostStore::ApplyCommentDeleted(const ReceivedMessage& m, const CommentEvent& e) {
  return applied_.ApplyOnce(m, [&](rocksdb::WriteBatch& batch) {
    std::string alive = "alive/" + e.post_id + "/" + e.comment_id;
    batch.Put("gone/" + e.comment_id, "");
    if (!Exists(alive)) return;  // its create has not arrived (or was never counted)
    batch.Delete(alive);
    batch.Put("count/" + e.post_id, std::to_string(Count(e.post_id) - 1));
  });
}

}  // namespace herald::services
