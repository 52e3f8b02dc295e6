#pragma once
// JSON replies. Errors are {"error": "<message>", "code": "<code>"}.

#include <string>

#include <httplib.h>
#include <nlohmann/json.hpp>

namespace herald::services {

void ReplyJson(httplib::Response& res, int status, const nlohmann::json& body);
void ReplyError(httplib::Response& res, int status, const std::string& code, const std::string& message);

}  // namespace herald::services
