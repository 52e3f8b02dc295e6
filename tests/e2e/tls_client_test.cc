// The SDK and brokerctl against a real brokerd serving TLS: with the CA that
// signed the broker's certificate they work as over plain TCP; trusting
// another CA, checking another name, or not speaking TLS at all, they fail
// within bounded time, and nothing reaches the broker.

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>

#include <catch2/catch.hpp>

#include "herald/client.h"
#include "tests/support/command.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_certs.h"

using namespace std::chrono_literals;
using herald::test::BrokerProcess;
using herald::test::CommandResult;
using herald::test::Eventually;
using herald::test::RunCommand;
using herald::test::TempDir;
using herald::test::TestCerts;

namespace {

using Clock = std::chrono::steady_clock;

struct TlsBroker {
  TempDir dir;
  TestCerts certs = herald::test::MakeTestCerts(dir.str());
  BrokerProcess broker{{"--tls-cert", certs.cert_file, "--tls-key", certs.key_file}};
};

herald::ClientOptions TlsOptions(const std::string& broker, const std::string& ca_file) {
  return {.broker = broker, .client_name = "tls-test", .tls = true, .tls_ca_file = ca_file};
}

// A refused client must say so long before its request timeout (30 s by default).
constexpr auto kFast = 5s;

CommandResult Ctl(const BrokerProcess& broker, const std::string& args) {
  return RunCommand(std::string(HERALD_BROKERCTL_PATH) + " --broker " + broker.address() + " " + args);
}

}  // namespace

TEST_CASE("tls: the SDK trusting the broker's CA publishes and consumes over TLS", "[e2e][tls]") {
  TlsBroker b;
  herald::Client client(TlsOptions(b.broker.address(), b.certs.ca_file));
  REQUIRE_FALSE(client.WaitConnected(10s));
  CHECK(client.Principal().empty());  // auth off
  REQUIRE_FALSE(client.CreateTopic("secure"));

  constexpr int kCount = 200;
  std::vector<std::future<herald::PublishResult>> acks;
  for (int i = 0; i < kCount; ++i) acks.push_back(client.Publish("secure", {.payload = "m" + std::to_string(i)}));
  for (auto& f : acks) REQUIRE_FALSE(f.get().error);

  // A second client names the broker by host name: the certificate's DNS name is checked.
  herald::Client consumer(TlsOptions("localhost:" + std::to_string(b.broker.port()), b.certs.ca_file));
  std::mutex mu;
  std::set<std::string> seen;
  REQUIRE_FALSE(consumer.Subscribe({.topic = "secure", .group = "g"}, [&](const herald::Delivery& d) {
    {
      std::lock_guard lock(mu);
      seen.insert(std::string(d.message().payload));
    }
    d.ack();
  }));
  CHECK(Eventually([&] {
    std::lock_guard lock(mu);
    return seen.size() == kCount;
  }));
  herald::GroupInfo group;
  CHECK(Eventually([&] { return !consumer.DescribeGroup("secure", "g", &group) && group.ack_floor == kCount; }));
}

TEST_CASE("tls: a client that does not trust the certificate fails fast and sends nothing", "[e2e][tls]") {
  TlsBroker b;
  herald::Client good(TlsOptions(b.broker.address(), b.certs.ca_file));
  REQUIRE_FALSE(good.WaitConnected(10s));
  REQUIRE_FALSE(good.CreateTopic("secure"));

  auto check_refused = [&](herald::ClientOptions options) {
    herald::Client client(options);
    auto start = Clock::now();
    std::error_code ec = client.WaitConnected(20s);
    INFO(ec.message());
    REQUIRE(ec);
    CHECK(ec != herald::errc::not_connected);
    CHECK(ec.message().find("certificate verify failed") != std::string::npos);
    // Waiting requests fail with the same error, not with their timeout.
    herald::PublishResult r = client.PublishSync("secure", {.payload = "must not arrive"});
    CHECK(r.error == ec);
    CHECK(client.CreateTopic("other") == ec);
    std::atomic<int> delivered{0};
    CHECK(client.Subscribe({.topic = "secure", .group = "g"}, [&](const herald::Delivery&) { ++delivered; }) == ec);
    CHECK(Clock::now() - start < kFast);
    CHECK(delivered == 0);
  };
  SECTION("another CA") { check_refused(TlsOptions(b.broker.address(), b.certs.other_ca_file)); }
  SECTION("the system's CAs") { check_refused(TlsOptions(b.broker.address(), "")); }
  SECTION("the right CA, but a name the certificate does not carry") {
    auto options = TlsOptions(b.broker.address(), b.certs.ca_file);
    options.tls_server_name = "broker.example.com";
    check_refused(options);
  }

  herald::TopicInfo info;
  REQUIRE_FALSE(good.DescribeTopic("secure", &info));
  CHECK(info.next_offset == 0);
  std::vector<herald::TopicInfo> topics;
  REQUIRE_FALSE(good.ListTopics(&topics));
  CHECK(topics.size() == 1);  // "other" was never created
}

TEST_CASE("tls: a plain-TCP client of a TLS broker fails within its timeouts", "[e2e][tls]") {
  TlsBroker b;
  herald::Client plain({.broker = b.broker.address(), .request_timeout = 2s});
  auto start = Clock::now();
  CHECK(plain.WaitConnected(2s) == herald::errc::not_connected);
  std::error_code ec = plain.CreateTopic("plain");
  CHECK((ec == herald::errc::timeout || ec == herald::errc::not_connected));
  CHECK(Clock::now() - start < 10s);
  // The broker shrugged it off: TLS clients still get in, and nothing was created.
  herald::Client good(TlsOptions(b.broker.address(), b.certs.ca_file));
  REQUIRE_FALSE(good.WaitConnected(10s));
  std::vector<herald::TopicInfo> topics;
  REQUIRE_FALSE(good.ListTopics(&topics));
  CHECK(topics.empty());
}

TEST_CASE("tls: a TLS client of a plain broker fails fast", "[e2e][tls]") {
  TempDir dir;
  TestCerts certs = herald::test::MakeTestCerts(dir.str());
  BrokerProcess broker;
  herald::Client client(TlsOptions(broker.address(), certs.ca_file));
  auto start = Clock::now();
  std::error_code ec = client.WaitConnected(20s);
  INFO(ec.message());
  CHECK(ec);
  CHECK(ec != herald::errc::not_connected);
  CHECK(client.CreateTopic("t") == ec);
  CHECK(Clock::now() - start < kFast);
}

TEST_CASE("tls: brokerctl connects with --tls-ca and refuses without it", "[e2e][tls][brokerctl]") {
  TlsBroker b;
  const std::string ca = " --tls-ca " + b.certs.ca_file + " ";
  CommandResult status = Ctl(b.broker, ca + "status");
  CHECK(status.exit_code == 0);
  CHECK(status.out.find("(TLS)") != std::string::npos);
  CHECK(Ctl(b.broker, ca + "topic create secure").exit_code == 0);
  CHECK(Ctl(b.broker, ca + "publish secure hello").exit_code == 0);
  CommandResult consumed = Ctl(b.broker, ca + "consume secure --group cli --count 1 --timeout 5");
  CHECK(consumed.exit_code == 0);
  CHECK(consumed.out == "hello\n");
  // --tls-server-name with the certificate's other name.
  CHECK(Ctl(b.broker, ca + "--tls-server-name localhost topic list").exit_code == 0);

  // Plain TCP: the broker drops it; brokerctl gives up after its connect timeout.
  CommandResult plain = Ctl(b.broker, "--connect-timeout 2 topic list");
  CHECK(plain.exit_code == 3);
  // TLS trusting the wrong CA: refused at once, with the reason.
  auto start = Clock::now();
  CommandResult wrong = Ctl(b.broker, "--tls-ca " + b.certs.other_ca_file + " topic list");
  CHECK(wrong.exit_code == 3);
  CHECK(wrong.err.find("certificate verify failed") != std::string::npos);
  CHECK(Clock::now() - start < kFast);
  CHECK(Ctl(b.broker, "--tls topic list").exit_code == 3);  // the system's CAs do not know it either
}

TEST_CASE("tls: brokerctl reads the CA and the server name from HERALD_TLS_CA and HERALD_TLS_SERVER_NAME",
          "[e2e][tls][brokerctl]") {
  TlsBroker b;
  auto ctl_with_env = [&](const std::string& env) {
    return RunCommand("env " + env + " " + HERALD_BROKERCTL_PATH + " --broker " + b.broker.address() +
                      " --connect-timeout 5s topic list");
  };
  CHECK(ctl_with_env("HERALD_TLS_CA=" + b.certs.ca_file).exit_code == 0);
  CHECK(ctl_with_env("HERALD_TLS_CA=" + b.certs.ca_file + " HERALD_TLS_SERVER_NAME=localhost").exit_code == 0);
  // The variables are used, not ignored: a name the certificate lacks, or the wrong CA, is refused.
  CommandResult wrong_name =
      ctl_with_env("HERALD_TLS_CA=" + b.certs.ca_file + " HERALD_TLS_SERVER_NAME=elsewhere.invalid");
  CHECK(wrong_name.exit_code == 3);
  CHECK(ctl_with_env("HERALD_TLS_CA=" + b.certs.other_ca_file).exit_code == 3);
  // A flag beats the variable.
  CHECK(RunCommand("env HERALD_TLS_CA=" + b.certs.other_ca_file + " " + HERALD_BROKERCTL_PATH + " --broker " +
                   b.broker.address() + " --tls-ca " + b.certs.ca_file + " topic list")
            .exit_code == 0);
}
