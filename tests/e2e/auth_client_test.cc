// The SDK's and brokerctl's side of authentication, against a real brokerd
// with --auth-file: where the token comes from (options, HERALD_TOKEN,
// --token), how a refused token surfaces (at once, as authentication_failed /
// exit 7, not as a timeout), that NotAuthorized reaches the caller, and that
// `brokerctl token new` makes entries brokerd accepts. The broker's own
// checks are tests/e2e/auth_test.cc.

#include <chrono>
#include <cstdlib>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "herald/client.h"
#include "schemas/token.h"
#include "tests/support/command.h"
#include "tests/support/principals_file.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"

using namespace std::chrono_literals;
using herald::test::BrokerProcess;
using herald::test::CommandResult;
using herald::test::RunCommand;
using herald::test::TempDir;
using herald::test::WriteFile;
namespace wire = herald::wire;

namespace {

using Clock = std::chrono::steady_clock;

struct AuthBroker {
  TempDir dir;
  std::string ops = wire::NewToken();     // admin of everything
  std::string writer = wire::NewToken();  // may publish to comment-* only
  BrokerProcess broker{{"--auth-file", WritePrincipals()}};

  std::string WritePrincipals() {
    std::string path = dir / "principals.toml";
    WriteFile(path, herald::test::PrincipalEntry(
                        "ops", ops, "publish = [\"*\"]\nsubscribe = [\"*\"]\ngroups = [\"*\"]\nadmin = [\"*\"]") +
                        herald::test::PrincipalEntry("writer", writer,
                                                     "publish = [\"comment-*\"]\nsubscribe = []\ngroups = []\nadmin = []"));
    return path;
  }
};

// Sets an environment variable for one scope. Declare it before any client, so
// that no client thread runs while the environment changes.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) { ::setenv(name, value.c_str(), 1); }
  ~ScopedEnv() { ::unsetenv(name_); }

 private:
  const char* name_;
};

std::string Ctl(const AuthBroker& b) { return std::string(HERALD_BROKERCTL_PATH) + " --broker " + b.broker.address(); }

}  // namespace

TEST_CASE("auth client: without options.token the SDK sends HERALD_TOKEN", "[e2e][auth]") {
  AuthBroker b;
  ScopedEnv env("HERALD_TOKEN", b.ops);  // before the client starts, unset after it stops
  herald::Client client({.broker = b.broker.address()});
  REQUIRE_FALSE(client.WaitConnected(10s));
  CHECK(client.Principal() == "ops");
  CHECK_FALSE(client.CreateTopic("comment-created"));
}

TEST_CASE("auth client: options.token wins over HERALD_TOKEN", "[e2e][auth]") {
  AuthBroker b;
  ScopedEnv env("HERALD_TOKEN", b.ops);
  herald::Client client({.broker = b.broker.address(), .token = b.writer});
  REQUIRE_FALSE(client.WaitConnected(10s));
  CHECK(client.Principal() == "writer");
}

TEST_CASE("auth client: a refused token fails every request at once", "[e2e][auth]") {
  AuthBroker b;
  std::string token = GENERATE(std::string(), wire::NewToken());
  INFO("token: '" << token << "'");
  herald::Client client({.broker = b.broker.address(), .token = token});
  auto start = Clock::now();
  CHECK(client.WaitConnected(20s) == herald::errc::authentication_failed);
  CHECK(client.PublishSync("comment-created", {.payload = "x"}).error == herald::errc::authentication_failed);
  CHECK(client.CreateTopic("comment-created") == herald::errc::authentication_failed);
  CHECK(client.Subscribe({.topic = "comment-created", .group = "g"}, [](const herald::Delivery&) {}) ==
        herald::errc::authentication_failed);
  CHECK(Clock::now() - start < 5s);  // the request timeout is 30 s
  CHECK(client.Principal().empty());
}

TEST_CASE("auth client: NotAuthorized reaches the caller and the connection stays up", "[e2e][auth]") {
  AuthBroker b;
  herald::Client ops({.broker = b.broker.address(), .token = b.ops});
  REQUIRE_FALSE(ops.CreateTopic("comment-created"));
  REQUIRE_FALSE(ops.CreateTopic("audit"));

  herald::Client writer({.broker = b.broker.address(), .token = b.writer});
  CHECK(writer.CreateTopic("comment-deleted") == herald::errc::not_authorized);
  CHECK(writer.PublishSync("audit", {.payload = "x"}).error == herald::errc::not_authorized);
  CHECK(writer.Subscribe({.topic = "comment-created", .group = "g"}, [](const herald::Delivery&) {}) ==
        herald::errc::not_authorized);
  herald::PublishResult ok = writer.PublishSync("comment-created", {.payload = "y"});
  CHECK_FALSE(ok.error);
  CHECK(ok.offset == 0);
}

TEST_CASE("auth client: brokerctl takes --token or HERALD_TOKEN and exits 7 when refused", "[e2e][auth][brokerctl]") {
  AuthBroker b;
  CommandResult from_env = RunCommand("env HERALD_TOKEN=" + b.ops + " " + Ctl(b) + " status");
  CHECK(from_env.exit_code == 0);
  CHECK(from_env.out.find("principal:") != std::string::npos);
  CHECK(from_env.out.find("ops") != std::string::npos);
  CHECK(RunCommand(Ctl(b) + " --token " + b.ops + " topic create comment-created").exit_code == 0);

  CommandResult none = RunCommand(Ctl(b) + " topic list");
  CHECK(none.exit_code == 7);
  CHECK(none.err.find("authentication failed") != std::string::npos);
  CHECK(RunCommand("env HERALD_TOKEN=" + wire::NewToken() + " " + Ctl(b) + " topic list").exit_code == 7);
  // The flag wins over the environment.
  CHECK(RunCommand("env HERALD_TOKEN=" + b.ops + " " + Ctl(b) + " --token nope topic list").exit_code == 7);
  // Authenticated, but the ACL says no.
  CommandResult denied = RunCommand(Ctl(b) + " --token " + b.writer + " topic create comment-other");
  CHECK(denied.exit_code == 7);
  CHECK(denied.err.find("not authorized") != std::string::npos);
}

TEST_CASE("auth client: brokerctl token new makes an entry brokerd accepts", "[e2e][auth][brokerctl]") {
  const std::string ctl = HERALD_BROKERCTL_PATH;
  CommandResult made = RunCommand(ctl + " --json token new");
  REQUIRE(made.exit_code == 0);
  auto doc = nlohmann::json::parse(made.out);
  std::string token = doc.at("token");
  CHECK(token.size() == 64);
  CHECK(doc.at("hash") == wire::FormatTokenHash(wire::HashToken(token)));

  TempDir dir;
  WriteFile(dir / "token", token + "\n");
  CommandResult hashed = RunCommand(ctl + " token hash", dir / "token");
  CHECK(hashed.exit_code == 0);
  CHECK(hashed.out == doc.at("hash").get<std::string>() + "\n");

  // The text form's entry, pasted as is into a principals file.
  CommandResult entry = RunCommand(ctl + " token new --principal reader");
  REQUIRE(entry.exit_code == 0);
  std::string reader_token = entry.out.substr(entry.out.find("token:") + 6);
  reader_token = reader_token.substr(reader_token.find_first_not_of(' '), 64);
  std::string block = entry.out.substr(entry.out.find("\n\n") + 2);
  CHECK(block.find("[principals.reader]\ntoken = \"sha256:") != std::string::npos);
  CHECK(block.find("publish = []\nsubscribe = []\ngroups = []\nadmin = []\n") != std::string::npos);
  WriteFile(dir / "principals.toml", block);
  BrokerProcess broker({"--auth-file", dir / "principals.toml"});
  std::string at = ctl + " --broker " + broker.address();
  CHECK(RunCommand(at + " --token " + reader_token + " topic list").exit_code == 0);  // in, sees nothing
  CHECK(RunCommand(at + " --token " + reader_token + " topic create t").exit_code == 7);
  CHECK(RunCommand(at + " --token " + token + " topic list").exit_code == 7);  // not in the file
}
