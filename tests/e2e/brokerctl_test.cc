// brokerctl against a real brokerd: what an operator types, and its exit codes.

#include <array>
#include <cstdio>

#include <catch2/catch.hpp>
#include <sys/wait.h>

#include "tests/support/server_process.h"

using herald::test::BrokerProcess;

namespace {

struct Result {
  int exit_code;
  std::string out;
};

// Runs brokerctl through the shell (stdout captured, stderr to the test log).
Result Ctl(const BrokerProcess& broker, const std::string& args, const std::string& stdin_text = "") {
  std::string cmd = std::string(HERALD_BROKERCTL_PATH) + " --broker " + broker.address() + " " + args;
  if (!stdin_text.empty()) cmd = "printf '" + stdin_text + "' | " + cmd;
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  std::array<char, 4096> buf;
  while (std::size_t n = std::fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

}  // namespace

TEST_CASE("e2e: brokerctl creates, lists, publishes and consumes", "[e2e][brokerctl]") {
  BrokerProcess broker;
  CHECK(Ctl(broker, "topic create comment-created").exit_code == 0);
  CHECK(Ctl(broker, "topic create comment-created").exit_code == 0);  // idempotent
  CHECK(Ctl(broker, "publish comment-created", "one\\ntwo\\nthree\\n").exit_code == 0);
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
  std::string cmd = std::string(HERALD_BROKERCTL_PATH) + " --broker 127.0.0.1:" + std::to_string(port) +
                    " --connect-timeout 1 topic list";
  int status = std::system(cmd.c_str());
  CHECK(WEXITSTATUS(status) == 3);                                     // cannot connect
}
