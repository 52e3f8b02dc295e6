// event_fuzzer: the services' event payloads (services/common/events.cc).
//
// The services and the gateway decode every message of their topics with
// DecodeCommentCreated / DecodeCommentDeleted / DecodePostCreated /
// DecodePostUpdated; a payload comes from whoever could publish to the topic.
// The input is tried as all four. Checks: decoding never crashes, and an event that decodes
// encodes again to a payload that decodes to the same event (the services
// re-publish nothing they decode, but the encoders are what produce payloads
// in the first place: what they write must read back the same, NUL bytes
// included: regressions/event/nul_in_content.bin).

#include <cstdint>
#include <string>

#include "events.h"
#include "fuzz_check.h"

namespace {

using namespace herald::services;

bool Same(const CommentEvent& a, const CommentEvent& b, bool with_content) {
  return a.event_id == b.event_id && a.comment_id == b.comment_id && a.post_id == b.post_id &&
         a.author == b.author && (!with_content || a.content == b.content) && a.time_ms == b.time_ms;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  if (auto e = DecodeCommentCreated(bytes)) {
    auto again = DecodeCommentCreated(EncodeCommentCreated(*e));
    CHECK(again.has_value());
    CHECK(Same(*e, *again, true));
  }
  if (auto e = DecodeCommentDeleted(bytes)) {
    auto again = DecodeCommentDeleted(EncodeCommentDeleted(*e));
    CHECK(again.has_value());
    CHECK(Same(*e, *again, false));
  }
  if (auto e = DecodePostCreated(bytes)) {
    auto again = DecodePostCreated(EncodePostCreated(*e));
    CHECK(again.has_value());
    CHECK(again->event_id == e->event_id && again->post_id == e->post_id &&
          again->author == e->author && again->title == e->title && again->time_ms == e->time_ms);
  }
  if (auto e = DecodePostUpdated(bytes)) {
    auto again = DecodePostUpdated(EncodePostUpdated(*e));
    CHECK(again.has_value());
    CHECK(again->event_id == e->event_id && again->post_id == e->post_id &&
          again->comment_count == e->comment_count && again->time_ms == e->time_ms);
  }
  return 0;
}
