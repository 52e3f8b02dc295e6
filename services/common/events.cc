#include "events.h"

#include <cstring>
#include <vector>

#include <flatbuffers/flatbuffers.h>

#include "events_generated.h"

namespace herald::services {

namespace fb = herald::events;

namespace {

std::string Finish(flatbuffers::FlatBufferBuilder& fbb) {
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

template <class T>
const T* Verified(const std::string& bytes) {
  if (bytes.empty()) return nullptr;  // (and memcpy must not get aligned.data() == nullptr)
  // Copy into aligned storage: the payload string need not be aligned.
  thread_local std::vector<uint64_t> aligned;
  aligned.assign((bytes.size() + 7) / 8, 0);
  std::memcpy(aligned.data(), bytes.data(), bytes.size());
  const auto* data = reinterpret_cast<const uint8_t*>(aligned.data());
  flatbuffers::Verifier verifier(data, bytes.size(), 16, 1000);
  if (!verifier.VerifyBuffer<T>(nullptr)) return nullptr;
  return flatbuffers::GetRoot<T>(data);
}

bool Str(const flatbuffers::String* s, std::string* out) {
  if (s == nullptr) return false;
  *out = s->str();
  return true;
}

}  // namespace

// Strings go in with their length (CreateString(std::string)), never as C
// strings: a comment may contain a NUL byte, and *Direct(const char*) would
// cut it there (found by the event fuzzer).
std::string EncodeCommentCreated(const CommentEvent& e) {
  flatbuffers::FlatBufferBuilder fbb(256 + e.content.size());
  auto event_id = fbb.CreateString(e.event_id), comment_id = fbb.CreateString(e.comment_id),
       post_id = fbb.CreateString(e.post_id), author = fbb.CreateString(e.author),
       content = fbb.CreateString(e.content);
  fbb.Finish(fb::CreateCommentCreated(fbb, event_id, comment_id, post_id, author, content, e.time_ms));
  return Finish(fbb);
}

std::string EncodeCommentDeleted(const CommentEvent& e) {
  flatbuffers::FlatBufferBuilder fbb(256);
  auto event_id = fbb.CreateString(e.event_id), comment_id = fbb.CreateString(e.comment_id),
       post_id = fbb.CreateString(e.post_id), author = fbb.CreateString(e.author);
  fbb.Finish(fb::CreateCommentDeleted(fbb, event_id, comment_id, post_id, author, e.time_ms));
  return Finish(fbb);
}

std::string EncodePostCreated(const PostEvent& e) {
  flatbuffers::FlatBufferBuilder fbb(256);
  auto event_id = fbb.CreateString(e.event_id), post_id = fbb.CreateString(e.post_id),
       author = fbb.CreateString(e.author), title = fbb.CreateString(e.title);
  fbb.Finish(fb::CreatePostCreated(fbb, event_id, post_id, author, title, e.time_ms));
  return Finish(fbb);
}

std::string EncodePostUpdated(const PostUpdatedEvent& e) {
  flatbuffers::FlatBufferBuilder fbb(128);
  auto event_id = fbb.CreateString(e.event_id), post_id = fbb.CreateString(e.post_id);
  fbb.Finish(fb::CreatePostUpdated(fbb, event_id, post_id, e.comment_count, e.time_ms));
  return Finish(fbb);
}

std::optional<CommentEvent> DecodeCommentCreated(const std::string& bytes) {
  const auto* t = Verified<fb::CommentCreated>(bytes);
  CommentEvent e;
  if (!t || !Str(t->event_id(), &e.event_id) || !Str(t->comment_id(), &e.comment_id) ||
      !Str(t->post_id(), &e.post_id) || !Str(t->author(), &e.author))
    return std::nullopt;
  Str(t->content(), &e.content);
  e.time_ms = t->time_ms();
  return e;
}

std::optional<CommentEvent> DecodeCommentDeleted(const std::string& bytes) {
  const auto* t = Verified<fb::CommentDeleted>(bytes);
  CommentEvent e;
  if (!t || !Str(t->event_id(), &e.event_id) || !Str(t->comment_id(), &e.comment_id) ||
      !Str(t->post_id(), &e.post_id))
    return std::nullopt;
  Str(t->author(), &e.author);
  e.time_ms = t->time_ms();
  return e;
}

std::optional<PostEvent> DecodePostCreated(const std::string& bytes) {
  const auto* t = Verified<fb::PostCreated>(bytes);
  PostEvent e;
  if (!t || !Str(t->event_id(), &e.event_id) || !Str(t->post_id(), &e.post_id) ||
      !Str(t->author(), &e.author) || !Str(t->title(), &e.title))
    return std::nullopt;
  e.time_ms = t->time_ms();
  return e;
}

std::optional<PostUpdatedEvent> DecodePostUpdated(const std::string& bytes) {
  const auto* t = Verified<fb::PostUpdated>(bytes);
  PostUpdatedEvent e;
  if (!t || !Str(t->event_id(), &e.event_id) || !Str(t->post_id(), &e.post_id)) return std::nullopt;
  e.comment_count = t->comment_count();
  e.time_ms = t->time_ms();
  return e;
}

}  // namespace herald::services
