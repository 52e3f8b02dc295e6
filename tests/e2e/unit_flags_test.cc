// Duration and size flags from the outside: brokerd, brokerctl and a service
// take 250ms/30s/5m/7d and 512KiB/4MiB, still take the integers their flags
// took before (in the unit the flag names), and refuse a bad value with exit 2
// and a message that names the flag and what it accepts.

#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/support/command.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"

using herald::test::BrokerProcess;
using herald::test::RunBrokerctl;
using herald::test::RunCommand;
using herald::test::ServerProcess;
using herald::test::TempDir;
using herald::test::WriteFile;

namespace {

bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("flags: brokerd takes sizes and durations with units, and the old integers", "[e2e][flags]") {
  // Each spelling of the same limits: a 1 KiB payload cap and a 30 s ack deadline.
  for (std::vector<std::string> flags : {std::vector<std::string>{"--max-payload-bytes", "1KiB",
                                                                  "--default-ack-deadline-ms", "30s"},
                                         std::vector<std::string>{"--max-payload-bytes", "1024",
                                                                  "--default-ack-deadline-ms", "30000"}}) {
    INFO(flags[1] << " " << flags[3]);
    BrokerProcess broker(flags);
    REQUIRE(RunBrokerctl(broker.address(), "topic create t").exit_code == 0);
    CHECK(RunBrokerctl(broker.address(), "publish t " + std::string(1000, 'a')).exit_code == 0);
    auto over = RunBrokerctl(broker.address(), "publish t " + std::string(1100, 'a'));
    CHECK(over.exit_code != 0);  // the cap is 1024 bytes, not 1 byte or 1 KB
  }
}

TEST_CASE("flags: brokerctl timeouts take units and bare seconds", "[e2e][flags]") {
  BrokerProcess broker;
  REQUIRE(RunBrokerctl(broker.address(), "topic create t").exit_code == 0);
  for (std::string timeout : {"300ms", "1", "0.5"}) {
    INFO("--timeout " << timeout);
    // An empty topic: consume waits out its idle timeout and exits 0.
    auto r = RunBrokerctl(broker.address(), "--connect-timeout 2s consume t --group g --timeout " + timeout);
    CHECK(r.exit_code == 0);
    CHECK(RunBrokerctl(broker.address(), "tail t --timeout " + timeout).exit_code == 0);
  }
  CHECK(RunBrokerctl(broker.address(), "--connect-timeout 5 topic list").exit_code == 0);
}

TEST_CASE("flags: a service takes durations and its old milliseconds", "[e2e][flags]") {
  // ServerProcess requires that it starts and listens.
  ServerProcess posts(HERALD_POST_SERVICE_PATH, {"--data-dir", "{dir}/data", "--broker", "127.0.0.1:1",
                                                 "--http-header-timeout-ms", "5s", "--http-body-timeout-ms",
                                                 "30000"});
  CHECK(posts.running());
}

TEST_CASE("flags: a bad duration or size exits 2 naming the flag and the accepted forms", "[e2e][flags]") {
  struct Case {
    std::string command, flag, expected;
  };
  const std::string brokerd = std::string(HERALD_BROKERD_PATH) + " --print-config ";
  const std::string brokerctl = std::string(HERALD_BROKERCTL_PATH) + " --broker 127.0.0.1:1 ";
  const std::string posts = std::string(HERALD_POST_SERVICE_PATH) + " --broker 127.0.0.1:1 ";
  const std::vector<Case> cases = {
      {brokerd + "--default-ack-deadline-ms 30x", "--default-ack-deadline-ms", "250ms, 30s, 5m"},
      {brokerd + "--default-ack-deadline-ms 5ms", "--default-ack-deadline-ms", "5ms is below the minimum 10ms"},
      {brokerd + "--max-payload-bytes 1GiB", "--max-payload-bytes", "1GiB is above the maximum 256MiB"},
      {brokerd + "--max-frame-bytes 4MB2", "--max-frame-bytes", "4096, 512KiB, 4MiB"},
      {brokerd + "--idle-timeout 600", "--idle-timeout", "250ms, 30s, 5m"},
      {brokerctl + "--connect-timeout 2x topic list", "--connect-timeout", "a bare number is seconds"},
      {brokerctl + "consume t --group g --timeout soon", "--timeout", "250ms, 30s, 5m"},
      {posts + "--http-header-timeout-ms 1x", "--http-header-timeout-ms", "a bare number is milliseconds"},
  };
  for (const auto& c : cases) {
    auto r = RunCommand(c.command);
    CHECK(r.exit_code == 2);
    CHECK(Contains(r.err, c.flag + ": "));
    CHECK(Contains(r.err, c.expected));
  }
}

TEST_CASE("flags: brokerd's config file takes the same spellings, and --print-config reads back", "[e2e][flags]") {
  TempDir dir;
  const std::string brokerd = HERALD_BROKERD_PATH;
  WriteFile(dir / "units.toml",
            "default-ack-deadline-ms = 30s\n"   // a unit, unquoted
            "max-payload-bytes = \"1MiB\"\n"   // a size the flag did not take before
            "fsync-interval-ms = 250\n"         // the old integer: milliseconds
            "frame-timeout-ms = \"2m\"\n");
  auto printed = RunCommand(brokerd + " --config " + (dir / "units.toml") + " --print-config");
  REQUIRE(printed.exit_code == 0);
  CHECK(Contains(printed.out, "default-ack-deadline-ms = \"30s\"\n"));
  CHECK(Contains(printed.out, "max-payload-bytes = \"1MiB\"\n"));
  CHECK(Contains(printed.out, "fsync-interval-ms = 250\n"));
  CHECK(Contains(printed.out, "frame-timeout-ms = \"2m\"\n"));
  CHECK(Contains(printed.out, "handshake-timeout-ms = \"10s\"\n"));  // a default, in a unit
  WriteFile(dir / "printed.toml", printed.out);
  auto again = RunCommand(brokerd + " --config " + (dir / "printed.toml") + " --print-config");
  CHECK(again.exit_code == 0);
  CHECK(again.out == printed.out);

  WriteFile(dir / "bad.toml", "default-ack-deadline-ms = 5ms\n");
  auto bad = RunCommand(brokerd + " --config " + (dir / "bad.toml") + " --print-config");
  CHECK(bad.exit_code == 2);
  CHECK(Contains(bad.err, "--default-ack-deadline-ms: 5ms is below the minimum 10ms"));
}
