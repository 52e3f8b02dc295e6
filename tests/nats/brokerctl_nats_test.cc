// brokerctl and broker-bench against the 3-node NATS JetStream test cluster
// (--broker nats://A,B,C): what maps onto JetStream works as on brokerd; what
// does not (status, topic alter, group reset, reads without a group) fails
// with exit 8 and a message naming the command and the engine.

#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/command.h"
#include "tests/support/nats_cluster.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"

using namespace std::chrono_literals;
using herald::test::CommandResult;
using herald::test::Eventually;
using herald::test::NatsCluster;
using herald::test::RunBrokerctl;
using herald::test::RunCommand;
using herald::test::TempDir;
using herald::test::WriteFile;
using nlohmann::json;

namespace {

constexpr int kNotSupported = 8;  // brokerctl's exit code (tools/brokerctl/brokerctl.h)

// brokerctl against the whole cluster, stdin from `stdin_path`.
CommandResult Ctl(const NatsCluster& cluster, const std::string& args,
                  const std::string& stdin_path = "/dev/null") {
  return RunBrokerctl(cluster.url(), args, stdin_path);
}

// Runs with --json and parses stdout; REQUIREs exit 0.
json CtlJson(const NatsCluster& cluster, const std::string& args) {
  CommandResult r = Ctl(cluster, "--json " + args);
  REQUIRE(r.exit_code == 0);
  return json::parse(r.out);
}

// The group's lag as `group describe` shows it; -1 if the command fails.
int64_t Lag(const NatsCluster& cluster, const std::string& topic, const std::string& group) {
  CommandResult r = Ctl(cluster, "--json group describe " + topic + " " + group);
  if (r.exit_code != 0) return -1;
  return json::parse(r.out)["lag"].get<int64_t>();
}

}  // namespace

TEST_CASE("e2e: brokerctl on NATS JetStream creates, publishes, consumes with a group and describes",
          "[e2e][nats][brokerctl]") {
  NatsCluster cluster;
  TempDir dir;

  CommandResult created = Ctl(cluster, "topic create orders");
  CHECK(created.exit_code == 0);
  CHECK(created.out == "created topic orders\n");
  CHECK(Ctl(cluster, "topic create orders").out == "topic exists: orders\n");  // idempotent

  WriteFile(dir / "lines", "one\ntwo\nthree\nfour\nfive\n");
  REQUIRE(Ctl(cluster, "publish orders", dir / "lines").exit_code == 0);

  CommandResult list = Ctl(cluster, "topic list");
  CHECK(list.exit_code == 0);
  CHECK(list.out.find("orders") != std::string::npos);
  json topic = CtlJson(cluster, "topic describe orders");
  CHECK(topic["message_count"] == 5);
  CHECK(topic["earliest_offset"] == 1);  // stream sequences count from 1 (client/NATS.md)
  CHECK(topic["next_offset"] == 6);

  // Exactly what is there: nothing is left delivered-but-unacked, which
  // JetStream would hold back for the group's AckWait (30 s).
  CommandResult consumed = Ctl(cluster, "consume orders --group billing --count 5 --timeout 10");
  CHECK(consumed.exit_code == 0);
  CHECK(consumed.out == "one\ntwo\nthree\nfour\nfive\n");
  CHECK(Eventually([&] { return Lag(cluster, "orders", "billing") == 0; }, 10s, 100ms));

  REQUIRE(Ctl(cluster, "publish orders six").exit_code == 0);
  REQUIRE(Ctl(cluster, "publish orders seven").exit_code == 0);
  CHECK(Eventually([&] { return Lag(cluster, "orders", "billing") == 2; }, 10s, 100ms));
  json groups = CtlJson(cluster, "group list orders");
  REQUIRE(groups.size() == 1);
  CHECK(groups[0]["name"] == "billing");
  CHECK(groups[0]["lag"] == 2);
  CHECK(Ctl(cluster, "topic describe orders").out.find("billing") != std::string::npos);

  CommandResult rest = Ctl(cluster, "consume orders --group billing --count 2 --timeout 10");
  CHECK(rest.exit_code == 0);
  CHECK(rest.out == "six\nseven\n");  // the group resumed after the acked ones
  CHECK(Eventually([&] { return Lag(cluster, "orders", "billing") == 0; }, 10s, 100ms));
  CHECK(Ctl(cluster, "group describe orders nosuch").exit_code == 4);

  CHECK(Ctl(cluster, "topic purge orders --yes").exit_code == 0);
  CHECK(CtlJson(cluster, "topic describe orders")["message_count"] == 0);
  CHECK(Ctl(cluster, "topic delete orders --yes").exit_code == 0);
  CHECK(Ctl(cluster, "topic describe orders").exit_code == 4);
}

TEST_CASE("e2e: brokerctl on NATS JetStream refuses what JetStream cannot do, with exit 8",
          "[e2e][nats][brokerctl]") {
  NatsCluster cluster;
  REQUIRE(Ctl(cluster, "topic create orders").exit_code == 0);
  REQUIRE(Ctl(cluster, "publish orders one").exit_code == 0);

  CommandResult status = Ctl(cluster, "status");
  CHECK(status.exit_code == kNotSupported);
  CHECK(status.out.empty());
  CHECK(status.err == "brokerctl: status: not supported on NATS JetStream (--broker " + cluster.url() +
                          "); only brokerd has it\n");
  // Every other command fails the same way, through the same path.
  struct Refused {
    std::string args, names;
  };
  for (const Refused& c : std::vector<Refused>{
           {"topic alter orders --retention-age 1d", "topic alter orders"},
           {"group reset orders billing --to earliest", "group reset orders billing"},
           {"consume orders --count 1", "consume orders without --group"},
           {"tail orders --from earliest --count 1", "tail orders"}}) {
    CommandResult r = Ctl(cluster, c.args);
    CHECK(r.exit_code == kNotSupported);
    CHECK(r.err.find("brokerctl: " + c.names + ": not supported on NATS JetStream") == 0);
  }
  // A refusal that is not the engine's keeps its own code.
  CHECK(Ctl(cluster, "topic alter nosuch --retention-age 1d").exit_code == 4);

  // --help names the URL forms and the exit code.
  CommandResult help = RunCommand(std::string(HERALD_BROKERCTL_PATH) + " --help");
  CHECK(help.exit_code == 0);
  CHECK(help.out.find("nats://HOST:PORT[,HOST:PORT...]") != std::string::npos);
  CHECK(help.out.find("herald://HOST:PORT") != std::string::npos);
  CHECK(help.out.find("8  not supported") != std::string::npos);
}

TEST_CASE("e2e: broker-bench runs its NATS workloads on the cluster given as --broker nats://...",
          "[e2e][nats][bench]") {
  NatsCluster cluster;
  CommandResult r = RunCommand(std::string(HERALD_BROKER_BENCH_PATH) + " --broker " + cluster.url() +
                               " --workload all --count 200 --size 64 --rate 200 --duration 1"
                               " --groups 2 --max-seconds 20 --json");
  REQUIRE(r.exit_code == 0);
  std::istringstream lines(r.out);
  std::vector<std::string> workloads;
  for (std::string line; std::getline(lines, line);) {
    json run = json::parse(line);
    CHECK(run["system"] == "nats");
    CHECK(run["complete"] == true);
    CHECK(run["error"] == "");
    workloads.push_back(run["workload"]);
  }
  CHECK(workloads == std::vector<std::string>{"nats publish", "nats latency@200", "nats fanout x2",
                                              "nats backlog"});

  // Three servers listed: the bench's streams are R3, as the SDK's topics are.
  REQUIRE(RunCommand(std::string(HERALD_BROKER_BENCH_PATH) + " --broker " + cluster.url() +
                     " --workload publish --count 10 --keep")
              .exit_code == 0);
  json jsz = json::parse(cluster.Monitor(0, "/jsz?accounts=true&streams=true&config=true"));
  int bench_streams = 0;
  for (const auto& account : jsz["account_details"]) {
    for (const auto& stream : account.value("stream_detail", json::array())) {
      if (stream["name"].get<std::string>().rfind("BENCH_publish_", 0) != 0) continue;
      ++bench_streams;
      CHECK(stream["config"]["num_replicas"] == 3);
    }
  }
  CHECK(bench_streams == 1);

  // herald:// is Herald's: nothing listens on that port, so the run fails to connect.
  CommandResult herald = RunCommand(std::string(HERALD_BROKER_BENCH_PATH) +
                                    " --broker herald://127.0.0.1:1 --connect-timeout 1 --count 10");
  CHECK(herald.exit_code == 1);
  CHECK(herald.out.find("cannot connect to herald://127.0.0.1:1") != std::string::npos);
}
