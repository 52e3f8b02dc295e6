#pragma once
// The flow's events as plain structs, and their FlatBuffers encoding
// (schemas/events.fbs). Decoding verifies the buffer and null-checks every
// field; a bad event decodes to nullopt.

#include <cstdint>
#include <optional>
#include <string>

namespace herald::services {

inline constexpr const char* kCommentCreated = "comment-created";
inline constexpr const char* kCommentDeleted = "comment-deleted";
inline constexpr const char* kPostCreated = "post-created";
inline constexpr const char* kPostUpdated = "post-updated";

struct CommentEvent {  // comment-created and comment-deleted
  std::string event_id, comment_id, post_id, author, content;
  int64_t time_ms = 0;
};

struct PostEvent {  // post-created
  std::string event_id, post_id, author, title;
  int64_t time_ms = 0;
};

struct PostUpdatedEvent {  // post-updated: a post's comment count changed
  std::string event_id, post_id;
  int64_t comment_count = 0;
  int64_t time_ms = 0;
};

std::string EncodeCommentCreated(const CommentEvent& e);
std::string EncodeCommentDeleted(const CommentEvent& e);
std::string EncodePostCreated(const PostEvent& e);
std::string EncodePostUpdated(const PostUpdatedEvent& e);
std::optional<CommentEvent> DecodeCommentCreated(const std::string& bytes);
std::optional<CommentEvent> DecodeCommentDeleted(const std::string& bytes);
std::optional<PostEvent> DecodePostCreated(const std::string& bytes);
std::optional<PostUpdatedEvent> DecodePostUpdated(const std::string& bytes);

}  // namespace herald::services
