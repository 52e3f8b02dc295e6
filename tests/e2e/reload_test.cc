// SIGHUP against a real brokerd: it reads the principals file and the TLS
// certificate and key again, keeps healthy connections, closes the ones whose
// token was revoked, applies changed rights from the next request, and keeps
// the settings in force when a file is bad. brokerctl status and /metrics say
// when the last reload was and whether it took.

#include <signal.h>

#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "herald/client.h"
#include "schemas/token.h"
#include "tests/support/command.h"
#include "tests/support/metric_sample.h"
#include "tests/support/principals_file.h"
#include "tests/support/raw_connection.h"
#include "tests/support/request_frames.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_certs.h"

using namespace std::chrono_literals;
using herald::test::BrokerProcess;
using herald::test::CreateTopicFrame;
using herald::test::ErrorOf;
using herald::test::Eventually;
using herald::test::MetricSample;
using herald::test::PrincipalEntry;
using herald::test::PublishFrame;
using herald::test::RawConnection;
using herald::test::RunCommand;
using herald::test::SubscribeFrame;
using herald::test::TempDir;
using herald::test::WriteFile;
namespace wire = herald::wire;

namespace {

std::size_t Count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// Sends SIGHUP and waits for the broker's log line that ends the reload;
// returns that line.
std::string Reload(const BrokerProcess& broker) {
  auto done = [&] {
    std::string log = broker.LogTail(256 * 1024);
    return Count(log, "] reloaded: ") + Count(log, "reload failed, the settings in force stay");
  };
  std::size_t before = done();
  REQUIRE(kill(broker.pid(), SIGHUP) == 0);
  REQUIRE(Eventually([&] { return done() > before; }, 10s));
  std::string log = broker.LogTail(256 * 1024);
  constexpr auto npos = std::string::npos;
  auto ok = log.rfind("] reloaded: "), failed = log.rfind("reload failed");
  auto at = ok == npos ? failed : failed == npos ? ok : std::max(ok, failed);
  return log.substr(at, log.find('\n', at) - at);
}

const wire::Frame* Call(RawConnection& raw, const wire::EncodedFrame& frame) {
  REQUIRE(raw.Send(frame));
  return raw.ReadFrame();
}

bool Published(const wire::Frame* reply) { return reply != nullptr && reply->body_as_PublishOk() != nullptr; }

nlohmann::json Status(const BrokerProcess& broker, const std::string& args) {
  auto r = RunCommand(std::string(HERALD_BROKERCTL_PATH) + " --broker " + broker.address() + " --json " +
                      args + " status");
  REQUIRE(r.exit_code == 0);
  return nlohmann::json::parse(r.out);
}

struct AuthBroker {
  TempDir dir;
  std::string ops = wire::NewToken(), writer = wire::NewToken(), reader = wire::NewToken();
  std::string file = dir.str() + "/principals.toml";
  bool written = (WriteFile(file, PrincipalEntry("ops", ops, "admin = [\"*\"]") +
                                      PrincipalEntry("writer", writer, "publish = [\"orders\"]") +
                                      PrincipalEntry("reader", reader, "subscribe = [\"orders\"]\ngroups = [\"reader\"]")),
                  true);
  BrokerProcess broker{{"--auth-file", file, "--metrics-listen", "127.0.0.1:0"}};
};

}  // namespace

TEST_CASE("reload: a revoked token's connection is closed, the others keep going", "[e2e][security][reload]") {
  AuthBroker b;
  RawConnection ops(b.broker.port()), writer(b.broker.port()), reader(b.broker.port());
  REQUIRE(ops.Handshake(b.ops));
  REQUIRE(writer.Handshake(b.writer));
  REQUIRE(reader.Handshake(b.reader));
  REQUIRE(Call(ops, CreateTopicFrame(1, "orders"))->body_as_CreateTopicOk() != nullptr);
  REQUIRE(Published(Call(writer, PublishFrame(2, "orders", "before"))));

  std::string fresh_writer;  // the writer's new token, when it gets one
  const std::string others =
      PrincipalEntry("ops", b.ops, "admin = [\"*\"]") + PrincipalEntry("reader", b.reader, "subscribe = [\"orders\"]\ngroups = [\"reader\"]");
  SECTION("the principal is removed") {
    WriteFile(b.file, others);
  }
  SECTION("the principal's token is changed") {
    fresh_writer = wire::NewToken();
    WriteFile(b.file, others + PrincipalEntry("writer", fresh_writer, "publish = [\"orders\"]"));
  }
  std::string line = Reload(b.broker);
  INFO(line);
  CHECK(line.find("1 connections closed for revoked tokens") != std::string::npos);

  // The revoked connection is told why, then closed; the others stay open.
  CHECK(ErrorOf(writer.ReadFrame()) == wire::ErrorCode::AuthenticationFailed);
  CHECK(writer.ClosedByPeer());
  CHECK(Call(ops, CreateTopicFrame(3, "audit"))->body_as_CreateTopicOk() != nullptr);
  REQUIRE(reader.Send(SubscribeFrame(4, "orders", "reader")));
  const wire::Frame* r = reader.ReadFrame();
  CHECK((r != nullptr && r->body_as_SubscribeOk() != nullptr));
  RawConnection again(b.broker.port());
  REQUIRE(again.SendHello(b.writer));
  CHECK(ErrorOf(again.ReadFrame()) == wire::ErrorCode::AuthenticationFailed);
  // A token the file names now is admitted without a restart.
  if (!fresh_writer.empty()) {
    RawConnection renewed(b.broker.port());
    REQUIRE(renewed.Handshake(fresh_writer));
    CHECK(Published(Call(renewed, PublishFrame(5, "orders", "after"))));
  }
  CHECK(MetricSample(b.broker, "herald_config_last_reload_successful") == 1);
}

TEST_CASE("reload: changed rights apply to a live connection's next request", "[e2e][security][reload]") {
  AuthBroker b;
  RawConnection ops(b.broker.port()), writer(b.broker.port());
  REQUIRE(ops.Handshake(b.ops));
  REQUIRE(writer.Handshake(b.writer));
  REQUIRE(Call(ops, CreateTopicFrame(1, "orders"))->body_as_CreateTopicOk() != nullptr);
  REQUIRE(Call(ops, CreateTopicFrame(2, "invoices"))->body_as_CreateTopicOk() != nullptr);
  REQUIRE(Published(Call(writer, PublishFrame(3, "orders", "o1"))));
  CHECK(ErrorOf(Call(writer, PublishFrame(4, "invoices", "i1"))) == wire::ErrorCode::NotAuthorized);

  // Same token, the rights moved from orders to invoices.
  WriteFile(b.file, PrincipalEntry("ops", b.ops, "admin = [\"*\"]") +
                        PrincipalEntry("writer", b.writer, "publish = [\"invoices\"]"));
  CHECK(Reload(b.broker).find("0 connections closed") != std::string::npos);
  CHECK(ErrorOf(Call(writer, PublishFrame(5, "orders", "o2"))) == wire::ErrorCode::NotAuthorized);
  CHECK(Published(Call(writer, PublishFrame(6, "invoices", "i2"))));
}

TEST_CASE("reload: a principals file that fails to parse keeps the settings in force", "[e2e][security][reload]") {
  AuthBroker b;
  RawConnection writer(b.broker.port());
  REQUIRE(writer.Handshake(b.writer));
  auto before = Status(b.broker, "--token " + b.ops);
  CHECK(before["last_reload_failed"] == false);

  // Line 4 is broken; the writer principal would be gone if it were taken.
  WriteFile(b.file, PrincipalEntry("ops", b.ops, "admin = [\"*\"]") + "publish = [\"orders\"\n");
  std::string line = Reload(b.broker);
  CHECK(line.find("reload failed, the settings in force stay") != std::string::npos);
  CHECK(line.find(b.file + ":4:") != std::string::npos);

  // Nothing changed: the writer's connection works, and its token still admits.
  RawConnection ops(b.broker.port());
  REQUIRE(ops.Handshake(b.ops));
  REQUIRE(Call(ops, CreateTopicFrame(1, "orders"))->body_as_CreateTopicOk() != nullptr);
  CHECK(Published(Call(writer, PublishFrame(2, "orders", "still here"))));
  RawConnection again(b.broker.port());
  CHECK(again.Handshake(b.writer));

  // status and /metrics tell the operator.
  auto after = Status(b.broker, "--token " + b.ops);
  CHECK(after["last_reload_failed"] == true);
  CHECK(after["last_reload_error"].get<std::string>().find(b.file + ":4:") != std::string::npos);
  CHECK(after["last_reload"] != before["last_reload"]);
  CHECK(MetricSample(b.broker, "herald_config_last_reload_successful") == 0);
  CHECK(MetricSample(b.broker, "herald_config_last_reload_timestamp_seconds") > 0);

  // Mended, the next reload takes and clears the failure.
  WriteFile(b.file, PrincipalEntry("ops", b.ops, "admin = [\"*\"]"));
  CHECK(Reload(b.broker).find("reloaded: auth on (1 principals)") != std::string::npos);
  CHECK(Status(b.broker, "--token " + b.ops)["last_reload_failed"] == false);
  CHECK(MetricSample(b.broker, "herald_config_last_reload_successful") == 1);
}

TEST_CASE("reload: a renewed TLS certificate serves new connections, old ones keep going",
          "[e2e][tls][reload]") {
  TempDir dir, renewed_dir, other_dir;
  auto certs = herald::test::MakeTestCerts(dir.str());
  auto renewed = herald::test::MakeTestCerts(renewed_dir.str());  // signed by another CA
  // The broker reads the files at these paths; a renewal replaces their content.
  std::string cert = dir.str() + "/live-cert.pem", key = dir.str() + "/live-key.pem";
  WriteFile(cert, herald::test::ReadFile(certs.cert_file));
  WriteFile(key, herald::test::ReadFile(certs.key_file));
  BrokerProcess broker{{"--tls-cert", cert, "--tls-key", key}};
  auto ctl = [&](const std::string& ca, const std::string& args) {
    return RunCommand(std::string(HERALD_BROKERCTL_PATH) + " --broker " + broker.address() +
                      " --tls-ca " + ca + " --connect-timeout 5 " + args);
  };
  herald::Client live({.broker = broker.address(), .client_name = "live", .tls = true,
                       .tls_ca_file = certs.ca_file});
  REQUIRE_FALSE(live.WaitConnected(10s));
  REQUIRE_FALSE(live.CreateTopic("t"));

  SECTION("renewed") {
    WriteFile(cert, herald::test::ReadFile(renewed.cert_file));
    WriteFile(key, herald::test::ReadFile(renewed.key_file));
    CHECK(Reload(broker).find("reloaded: auth off, TLS certificate " + cert) != std::string::npos);
    CHECK(ctl(renewed.ca_file, "status").exit_code == 0);
    CHECK(ctl(certs.ca_file, "status").exit_code != 0);  // new connections get the new certificate
  }
  SECTION("a key that does not match its certificate") {
    auto other = herald::test::MakeTestCerts(other_dir.str());
    WriteFile(cert, herald::test::ReadFile(renewed.cert_file));
    WriteFile(key, herald::test::ReadFile(other.key_file));
    std::string line = Reload(broker);
    INFO(line);
    CHECK(line.find("reload failed, the settings in force stay") != std::string::npos);
    CHECK(line.find("cannot load the TLS key '" + key + "': key values mismatch") != std::string::npos);
    CHECK(ctl(certs.ca_file, "status").exit_code == 0);  // the old certificate still serves
    auto status = nlohmann::json::parse(ctl(certs.ca_file, "--json status").out);
    CHECK(status["last_reload_failed"] == true);
  }
  // The connection made before the reload was never dropped.
  CHECK_FALSE(live.Publish("t", {.payload = "after the reload"}).get().error);
}

TEST_CASE("reload: SIGHUP on a broker without auth or TLS changes nothing and stops nothing", "[e2e][reload]") {
  BrokerProcess broker;
  RawConnection raw(broker.port());
  REQUIRE(raw.Handshake());
  CHECK(Reload(broker).find("reloaded: auth off, TLS off; 0 connections closed") != std::string::npos);
  CHECK(Call(raw, CreateTopicFrame(1, "t"))->body_as_CreateTopicOk() != nullptr);
  CHECK(broker.running());
}
