// json_fuzzer: the services' HTTP request bodies (services/common/service.cc).
//
// The input is a request body. It goes through ParseObject (size limit,
// strict UTF-8, object only, depth limit) and then through the field checks
// the POST handlers run: RequireString for the comment-service's author and
// content and the post-service's title, and IsValidId on an id field. Checks:
//   * a refused body gets status 400 or 413 and a JSON error reply
//     {"error": ..., "code": ...};
//   * an accepted body is an object of depth <= 16 that dumps and re-parses
//     to the same value;
//   * an accepted string field has 1..max bytes, and a reply that echoes it
//     (ReplyJson, as the handlers do with the stored comment) can be written;
//   * IsValidId accepts only [A-Za-z0-9_-]{1,64}.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "service.h"
#include "fuzz_check.h"

namespace {

using namespace herald::services;

int Depth(const json& j) {
  int deepest = 0;
  if (j.is_object() || j.is_array()) {
    for (const auto& v : j) deepest = std::max(deepest, 1 + Depth(v));
  }
  return deepest;
}

void CheckErrorReply(const httplib::Response& res) {
  CHECK(res.status == 400 || res.status == 413);
  json reply = json::parse(res.body, nullptr, false);
  CHECK(reply.is_object() && reply.contains("error") && reply.contains("code"));
  CHECK(reply["error"].is_string() && reply["code"].is_string());
}

void CheckField(const json& body, const char* field, std::size_t max_len) {
  httplib::Response res;
  auto value = RequireString(body, field, max_len, res);
  if (!value) {
    CheckErrorReply(res);
    return;
  }
  CHECK(!value->empty() && value->size() <= max_len);
  CHECK(body.at(field).get<std::string>() == *value);
  // The handlers echo accepted fields back in their replies.
  httplib::Response reply;
  ReplyJson(reply, 201, {{field, *value}, {"id", NewId()}});
  CHECK(json::parse(reply.body).at(field).get<std::string>() == *value);
}

void CheckId(const json& body, const char* field) {
  auto it = body.find(field);
  if (it == body.end() || !it->is_string()) return;
  const std::string& id = it->get_ref<const std::string&>();
  bool valid = IsValidId(id);
  bool expected = !id.empty() && id.size() <= 64;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    expected = expected && ok;
  }
  CHECK(valid == expected);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  httplib::Request req;
  req.method = "POST";
  req.body.assign(reinterpret_cast<const char*>(data), size);
  httplib::Response res;
  std::optional<json> body = ParseObject(req, res);
  if (!body) {
    CheckErrorReply(res);
    return 0;
  }
  CHECK(res.body.empty());
  CHECK(body->is_object());
  CHECK(Depth(*body) <= 16);
  json again = json::parse(body->dump());
  CHECK(again == *body);

  CheckField(*body, "author", 100);     // both services
  CheckField(*body, "content", 10'000);  // comment-service (post-service: 100,000)
  CheckField(*body, "title", 300);       // post-service
  CheckId(*body, "post_id");
  CheckId(*body, "id");
  return 0;
}
