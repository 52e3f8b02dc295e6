#include "json_reply.h"

namespace herald::services {

void ReplyJson(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

void ReplyError(httplib::Response& res, int status, const std::string& code, const std::string& message) {
  ReplyJson(res, status, {{"error", message}, {"code", code}});
}

}  // namespace herald::services
