// The comment-count flow with security on: brokerd serves TLS only and needs
// tokens; each service has its own principal with least privilege (ops made
// the topics with brokerctl), connects over TLS verifying the broker's
// certificate, and the counts come out exact. No request of the flow is
// refused (but the services' start-up CreateTopic, which they may skip),
// which is what says the documented ACLs are enough.

#include <map>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "schemas/token.h"
#include "tests/support/command.h"
#include "tests/support/blog_flow.h"
#include "tests/support/principals_file.h"
#include "tests/support/server_process.h"
#include "tests/support/test_certs.h"

using namespace std::chrono_literals;
using herald::test::Eventually;
using herald::test::BlogFlow;
using herald::test::Call;
using herald::test::DeleteComment;
using herald::test::GetJson;
using nlohmann::json;
namespace wire = herald::wire;

namespace {

struct Principal {
  std::string name;
  std::string token = wire::NewToken();
  std::string acl;  // the lines after `token = ...`
};

struct Security {
  herald::test::TempDir dir;
  herald::test::TestCerts certs = herald::test::MakeTestCerts(dir.str());
  std::map<std::string, Principal> principals;
  std::string auth_file = dir.str() + "/principals.toml";

  Security() {
    Add("ops", "admin = [\"*\"]\n");
    Add("comment-service",
        "publish = [\"comment-*\"]\nsubscribe = [\"post-created\"]\ngroups = [\"comment-service\"]\n");
    Add("post-service",
        "publish = [\"post-created\", \"post-updated\"]\nsubscribe = [\"comment-*\"]\ngroups = [\"post-service\"]\n");
    Add("notification-service",
        "subscribe = [\"comment-created\", \"post-created\"]\ngroups = [\"notification-service\"]\n");
    Add("api-gateway", "subscribe = [\"comment-created\", \"post-updated\"]\ngroups = [\"api-gateway-*\"]\n");
    std::string text;
    for (const auto& [name, p] : principals) {
      text += herald::test::PrincipalEntry(name, p.token, p.acl) + "\n";
    }
    herald::test::WriteFile(auth_file, text);
  }
  void Add(const std::string& name, const std::string& acl) { principals[name] = {name, wire::NewToken(), acl}; }
  const std::string& Token(const std::string& name) { return principals.at(name).token; }
  // A service's flags to reach the broker as `name`.
  std::vector<std::string> BrokerFlags(const std::string& name) {
    return {"--broker-token", Token(name), "--broker-tls-ca", certs.ca_file};
  }
};

}  // namespace

TEST_CASE("flow: the services keep exact counts over TLS with a token each and least privilege",
          "[e2e][flow][security]") {
  Security sec;
  // The services start before the topics exist: they may not create them,
  // and retry their subscriptions until ops has.
  BlogFlow flow({"--auth-file", sec.auth_file, "--tls-cert", sec.certs.cert_file, "--tls-key", sec.certs.key_file},
                [&](const std::string& service) { return sec.BrokerFlags(service); });
  for (const char* topic : {"comment-created", "comment-deleted", "post-created", "post-updated"}) {
    auto r = herald::test::RunCommand(std::string(HERALD_BROKERCTL_PATH) + " --broker " +
                                      flow.broker.address() + " --tls-ca " + sec.certs.ca_file + " --token " +
                                      sec.Token("ops") + " topic create " + topic);
    REQUIRE(r.exit_code == 0);
  }
  const std::string gw = flow.gateway.address();

  std::vector<std::string> post_ids;
  for (int i = 0; i < 2; ++i) {
    auto r = Call(gw, "POST", "/api/posts", json{{"author", "alice"}, {"title", "post " + std::to_string(i)}, {"content", "x"}}.dump());
    REQUIRE(r);
    REQUIRE(r->status == 201);
    post_ids.push_back(json::parse(r->body)["id"]);
  }
  std::vector<json> comments;
  for (int i = 0; i < 12; ++i) {
    auto r = Call(gw, "POST", "/api/posts/" + post_ids[static_cast<std::size_t>(i) % 2] + "/comments",
                  json{{"author", "bob"}, {"content", "hi " + std::to_string(i)}}.dump());
    REQUIRE(r);
    REQUIRE(r->status == 201);
    comments.push_back(json::parse(r->body));
  }
  for (std::size_t i = 0; i < 4; ++i) {  // removes two comments of each post
    auto r = DeleteComment(gw, comments[i]["id"], comments[i]["delete_token"]);
    REQUIRE(r);
    REQUIRE(r->status == 204);
  }

  bool converged = Eventually([&] {
    json list = GetJson(gw, "/api/posts");
    if (!list.is_array() || list.size() != 2) return false;
    for (const auto& p : list)
      if (p["comment_count"] != 4) return false;
    return true;
  }, 30s, 100ms);
  if (!converged) {
    WARN("posts: " << GetJson(gw, "/api/posts").dump() << "\npost-service log:\n"
                   << flow.posts.LogTail() << "\nbroker log:\n" << flow.broker.LogTail());
  }
  REQUIRE(converged);
  CHECK(Eventually([&] {
    json notes = GetJson(gw, "/api/notifications?user=alice");
    return notes.is_array() && notes.size() == 12;
  }, 30s, 100ms));

  // Every service connected over TLS as its own principal, and nothing it did
  // was refused but its start-up CreateTopic (ops made the topics).
  std::string log = flow.broker.LogTail(256 * 1024);
  for (const char* who : {"/post-service", "/comment-service", "/notification-service"}) {
    CHECK(log.find(who) != std::string::npos);
  }
  std::size_t denied = 0, denied_create = 0;
  for (std::size_t at = log.find("denied "); at != std::string::npos; at = log.find("denied ", at + 1)) {
    ++denied;
    if (log.compare(at, 20, "denied create topic ") == 0) ++denied_create;
  }
  CHECK(denied == denied_create);
  CHECK(log.find("authentication failed") == std::string::npos);
}
