#pragma once
// The blog of the reference flow as real processes, for end-to-end tests:
// brokerd, post-service, comment-service, notification-service and
// api-gateway, each in a temp dir of its own on a port the kernel picked; and
// HTTP calls to them.
//
// Header-only: its users are the test targets that get the service binaries'
// paths (HERALD_*_SERVICE_PATH, HERALD_API_GATEWAY_PATH) and link
// PkgConfig::HTTPLIB and nlohmann_json.

#include <functional>
#include <string>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "tests/support/server_process.h"

namespace herald::test {

// One HTTP request with short timeouts: a request to a process that is down
// fails fast, and one that hangs is given up on (an ambiguous outcome).
inline httplib::Result Call(const std::string& address, const std::string& method, const std::string& path,
                            const std::string& body = "", const httplib::Headers& headers = {}) {
  httplib::Client c(address.c_str());
  c.set_connection_timeout(1);
  c.set_read_timeout(3);
  c.set_write_timeout(3);
  if (method == "POST") return c.Post(path.c_str(), headers, body, "application/json");
  if (method == "DELETE") return c.Delete(path.c_str(), headers);
  return c.Get(path.c_str(), headers);
}

// DELETE of a comment by its writer: with the delete token that creating it
// returned (the gateway's X-Delete-Token header).
inline httplib::Result DeleteComment(const std::string& gateway, const std::string& comment_id,
                                     const std::string& delete_token) {
  return Call(gateway, "DELETE", "/api/comments/" + comment_id, "", {{"X-Delete-Token", delete_token}});
}

// The JSON body of a 200 reply to GET, or null.
inline nlohmann::json GetJson(const std::string& address, const std::string& path) {
  auto r = Call(address, "GET", path);
  if (!r || r->status != 200) return nullptr;
  return nlohmann::json::parse(r->body, nullptr, false);
}

// Where the post- and comment-service keep their databases ("{dir}": each
// one's own temp dir).
struct BlogDataDirs {
  std::string posts = "{dir}/data";
  std::string comments = "{dir}/data";
};

struct BlogFlow {
  // The flags a service (named by its principal: "post-service", ...) needs to
  // reach the broker besides --broker: a token, TLS.
  using BrokerFlags = std::function<std::vector<std::string>(const std::string& service)>;

  // `gateway_args`: more flags for the api-gateway (limits, intervals).
  explicit BlogFlow(std::vector<std::string> broker_args = {}, BrokerFlags broker_flags = {},
                    std::vector<std::string> gateway_args = {}, BlogDataDirs data = {})
      : broker(std::move(broker_args)),
        posts(HERALD_POST_SERVICE_PATH, Args({"--data-dir", data.posts}, "post-service", broker_flags)),
        comments(HERALD_COMMENT_SERVICE_PATH,
                 Args({"--data-dir", data.comments, "--post-service", posts.address()}, "comment-service",
                      broker_flags)),
        notifications(HERALD_NOTIFICATION_SERVICE_PATH,
                      Args({"--data-dir", "{dir}/data"}, "notification-service", broker_flags)),
        gateway(HERALD_API_GATEWAY_PATH,
                Args(Concat({"--comment-service", comments.address(), "--post-service", posts.address(),
                             "--notification-service", notifications.address()},
                            gateway_args),
                     "api-gateway", broker_flags)) {}

  BrokerProcess broker;
  ServerProcess posts;
  ServerProcess comments;
  ServerProcess notifications;
  ServerProcess gateway;

 private:
  static std::vector<std::string> Concat(std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  }
  std::vector<std::string> Args(std::vector<std::string> args, const std::string& service,
                                const BrokerFlags& broker_flags) {
    args.insert(args.end(), {"--broker", broker.address()});
    if (broker_flags) {
      auto extra = broker_flags(service);
      args.insert(args.end(), extra.begin(), extra.end());
    }
    return args;
  }
};

}  // namespace herald::test
