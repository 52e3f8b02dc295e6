// A token never goes in clear to another machine: with TLS off, the SDK (both
// engines) and brokerctl refuse a broker address that is not loopback before
// they connect, with errc::plaintext_token_refused / exit 5. 192.0.2.1 is
// TEST-NET-1 (RFC 5737): never reached, since the refusal comes first; a
// client that did try would end with not_connected after its connect timeout,
// not with this error. On loopback a token still goes through.

#include <catch2/catch.hpp>

#include "herald/client.h"
#include "tests/support/command.h"
#include "tests/support/server_process.h"

using namespace std::chrono_literals;
using herald::test::BrokerProcess;
using herald::test::RunBrokerctl;

namespace {

constexpr const char* kOffMachine = "192.0.2.1:7400";

herald::ClientOptions WithToken(std::string broker) {
  herald::ClientOptions o;
  o.broker = std::move(broker);
  o.token = "a-token-that-must-not-leave";
  o.request_timeout = 30s;
  return o;
}

}  // namespace

TEST_CASE("plaintext token: refused before connecting to a host that is not loopback", "[e2e][token]") {
  SECTION("brokerd") {
    herald::Client client(WithToken(kOffMachine));
    CHECK(client.WaitConnected(30s) == herald::errc::plaintext_token_refused);
    // Requests fail with the same error at once, rather than wait for a connection.
    std::vector<herald::TopicInfo> topics;
    CHECK(client.ListTopics(&topics) == herald::errc::plaintext_token_refused);
    CHECK(client.PublishSync("t", {.payload = "x"}).error == herald::errc::plaintext_token_refused);
  }
  SECTION("IPv6 and IPv4-mapped addresses") {
    herald::Client v6(WithToken("[2001:db8::1]:7400"));
    CHECK(v6.WaitConnected(30s) == herald::errc::plaintext_token_refused);
    herald::Client mapped(WithToken("[::ffff:192.0.2.1]:7400"));
    CHECK(mapped.WaitConnected(30s) == herald::errc::plaintext_token_refused);
  }
  SECTION("NATS JetStream, a token in the options or in the URL") {
    herald::Client nats(WithToken("nats://192.0.2.1:4222"));
    CHECK(nats.WaitConnected(30s) == herald::errc::plaintext_token_refused);
    auto in_url = WithToken("nats://secret@192.0.2.1:4222");
    in_url.token.clear();
    herald::Client url(in_url);
    CHECK(url.WaitConnected(30s) == herald::errc::plaintext_token_refused);
  }
  SECTION("brokerctl says why and exits 5") {
    auto r = RunBrokerctl(kOffMachine, "--token secret --connect-timeout 30 topic list");
    CHECK(r.exit_code == 5);
    CHECK(r.err.find("token not sent: TLS is off") != std::string::npos);
    CHECK(r.err.find("secret") == std::string::npos);  // the message never shows the token
  }
}

TEST_CASE("plaintext token: loopback brokers still get it", "[e2e][token]") {
  BrokerProcess broker;  // auth off: it ignores the token, but the client sends it
  for (const std::string& address :
       {broker.address(), "localhost:" + std::to_string(broker.port())}) {
    INFO(address);
    herald::Client client(WithToken(address));
    REQUIRE_FALSE(client.WaitConnected(10s));
    CHECK_FALSE(client.CreateTopic("t"));
  }
  CHECK(RunBrokerctl(broker.address(), "--token secret topic list").exit_code == 0);
}
