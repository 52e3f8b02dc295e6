// brokerctl against a real brokerd: what an operator types, and its exit codes.

#include <catch2/catch.hpp>

#include "tests/support/command.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"

using herald::test::BrokerProcess;
using herald::test::CommandResult;
using herald::test::RunBrokerctl;
using herald::test::RunCommand;
using herald::test::TempDir;
using herald::test::WriteFile;

namespace {

// brokerctl against `broker`, stdin from `stdin_path`.
CommandResult Ctl(const BrokerProcess& broker, const std::string& args,
                  const std::string& stdin_path = "/dev/null") {
  return RunBrokerctl(broker.address(), args, stdin_path);
}

}  // namespace

TEST_CASE("e2e: brokerctl creates, lists, publishes and consumes", "[e2e][brokerctl]") {
  BrokerProcess broker;
  TempDir dir;
  CHECK(Ctl(broker, "topic create comment-created").exit_code == 0);
  CHECK(Ctl(broker, "topic create comment-created").exit_code == 0);  // idempotent
  WriteFile(dir / "lines", "one\ntwo\nthree\n");
  CHECK(Ctl(broker, "publish comment-created", dir / "lines").exit_code == 0);
  CHECK(Ctl(broker, "publish comment-created --key post-1 --header source=test four").exit_code == 0);
  auto list = Ctl(broker, "topic list");
  CHECK(list.exit_code == 0);
  CHECK(list.out.find("comment-created") != std::string::npos);

  auto first = Ctl(broker, "consume comment-created --group cli --count 2 --timeout 5");
  CHECK(first.exit_code == 0);
  CHECK(first.out == "one\ntwo\n");
  auto rest = Ctl(broker, "consume comment-created --group cli --timeout 1");
  CHECK(rest.exit_code == 0);
  CHECK(rest.out == "three\nfour\n");  // the group resumed after the acked ones
}

TEST_CASE("e2e: brokerctl fails with a message and a distinct exit code", "[e2e][brokerctl]") {
  BrokerProcess broker;
  CHECK(Ctl(broker, "publish nope hello").exit_code == 4);            // not found
  CHECK(Ctl(broker, "topic create 'bad name'").exit_code == 5);       // invalid
  CHECK(Ctl(broker, "topic").exit_code == 2);                          // usage
  BrokerProcess gone;
  uint16_t port = gone.port();
  gone.Kill();
  CommandResult r = RunCommand(std::string(HERALD_BROKERCTL_PATH) + " --broker 127.0.0.1:" +
                               std::to_string(port) + " --connect-timeout 1 topic list");
  CHECK(r.exit_code == 3);                                             // cannot connect
}
