#include "post_store.h"

#include <string_view>

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

namespace {

// time/<created_at>/<post id>: RFC 3339 UTC strings of one width sort
// bytewise as time does.
std::string TimeKey(const std::string& created_at, const std::string& post_id) {
  return "time/" + created_at + "/" + post_id;
}

constexpr std::string_view kTimePrefix = "time/";
constexpr const char* kTimeIndexDone = "meta/time-index";

}  // namespace

rocksdb::Status PostStore::Create(const std::string& author, const std::string& title,
                                  const std::string& content, nlohmann::json* post) {
  PostEvent e{NewId(), NewId(), author, title, NowMs()};
  *post = {{"id", e.post_id}, {"author", author}, {"title", title}, {"content", content},
           {"created_at", Rfc3339(e.time_ms)}};
  rocksdb::WriteBatch batch;
  batch.Put("post/" + e.post_id, post->dump());
  batch.Put("count/" + e.post_id, "0");
  batch.Put(TimeKey((*post)["created_at"], e.post_id), "");
  outbox_->Add(batch, kPostCreated, Message{e.post_id, {{Outbox::kEventIdHeader, e.event_id}}, EncodePostCreated(e)});
  rocksdb::WriteOptions wo;
  wo.sync = true;
  rocksdb::Status s = db_->Write(wo, &batch);
  if (s.ok()) outbox_->Notify();
  (*post)["comment_count"] = 0;
  return s;
}

rocksdb::Status PostStore::IndexOldPosts() {
  if (Exists(kTimeIndexDone)) return rocksdb::Status::OK();
  rocksdb::WriteBatch batch;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek("post/"); it->Valid() && it->key().starts_with("post/"); it->Next()) {
    auto post = nlohmann::json::parse(it->value().ToString(), nullptr, false);
    if (post.is_discarded() || !post["created_at"].is_string() || !post["id"].is_string()) continue;
    batch.Put(TimeKey(post["created_at"], post["id"]), "");
  }
  if (!it->status().ok()) return it->status();
  batch.Put(kTimeIndexDone, "");
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return db_->Write(wo, &batch);
}

std::optional<nlohmann::json> PostStore::Get(const std::string& post_id) {
  std::string value;
  if (!db_->Get(rocksdb::ReadOptions(), "post/" + post_id, &value).ok()) return std::nullopt;
  auto post = nlohmann::json::parse(value);
  post["comment_count"] = Count(post_id);
  return post;
}

std::optional<std::vector<nlohmann::json>> PostStore::Cards(std::size_t limit, const std::string& before) {
  constexpr std::size_t kExcerptBytes = 160;
  // Walks the time index backwards from `before` (or its end): a page reads
  // `limit` posts, however many there are.
  std::string start = std::string(kTimePrefix) + "\xff";
  if (!before.empty()) {
    auto older_than = Get(before);
    if (!older_than) return std::nullopt;
    start = TimeKey(older_than->value("created_at", ""), before);
  }
  std::vector<nlohmann::json> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  it->SeekForPrev(start);
  if (!before.empty() && it->Valid() && it->key() == start) it->Prev();
  for (; it->Valid() && it->key().starts_with(kTimePrefix) && out.size() < limit; it->Prev()) {
    std::string key = it->key().ToString();
    auto post = Get(key.substr(key.rfind('/') + 1));
    if (!post) continue;
    std::string content = post->value("content", "");
    if (content.size() > kExcerptBytes) {
      std::size_t cut = kExcerptBytes;
      while (cut > 0 && (static_cast<unsigned char>(content[cut]) & 0xC0) == 0x80) --cut;  // not mid-character
      content = content.substr(0, cut) + "…";
    }
    out.push_back({{"id", (*post)["id"]}, {"author", (*post)["author"]}, {"title", (*post)["title"]},
                   {"excerpt", content}, {"comment_count", (*post)["comment_count"]},
                   {"created_at", (*post)["created_at"]}});
  }
  return out;
}

void PostStore::AddPostUpdated(rocksdb::WriteBatch& batch, const std::string& post_id, int64_t count) {
  PostUpdatedEvent e{NewId(), post_id, count, NowMs()};
  outbox_->Add(batch, kPostUpdated, Message{post_id, {{Outbox::kEventIdHeader, e.event_id}}, EncodePostUpdated(e)});
}

// Both run inside ApplyOnce, which serializes them: the reads below see every
// earlier event's writes. Each applied event publishes the post's count after
// it, changed or not: a reader that missed an update is corrected by the next.
rocksdb::Status PostStore::ApplyCommentCreated(const ReceivedMessage& m, const CommentEvent& e) {
  bool applied = false;
  rocksdb::Status s = applied_.ApplyOnce(m, [&](rocksdb::WriteBatch& batch) {
    std::string alive = "alive/" + e.post_id + "/" + e.comment_id;
    int64_t count = Count(e.post_id);
    if (!Exists("gone/" + e.comment_id) && !Exists(alive)) {  // not deleted first, nor counted
      batch.Put(alive, "");
      batch.Put("count/" + e.post_id, std::to_string(++count));
    }
    AddPostUpdated(batch, e.post_id, count);
  }, &applied);
  if (s.ok() && applied) outbox_->Notify();
  return s;
}

rocksdb::Status PostStore::ApplyCommentDeleted(const ReceivedMessage& m, const CommentEvent& e) {
  bool applied = false;
  rocksdb::Status s = applied_.ApplyOnce(m, [&](rocksdb::WriteBatch& batch) {
    std::string alive = "alive/" + e.post_id + "/" + e.comment_id;
    int64_t count = Count(e.post_id);
    batch.Put("gone/" + e.comment_id, "");
    if (Exists(alive)) {  // else its create has not arrived (or was never counted)
      batch.Delete(alive);
      batch.Put("count/" + e.post_id, std::to_string(--count));
    }
    AddPostUpdated(batch, e.post_id, count);
  }, &applied);
  if (s.ok() && applied) outbox_->Notify();
  return s;
}

}  // namespace herald::services
