// brokerctl as a command line: --version, shell completion made from its
// command tree, unknown commands, error messages without wire codes (and with
// them under --json), every group of every topic, and group reset --dry-run.

#include <regex>
#include <set>
#include <sstream>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/command.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"

using namespace herald::test;  // BrokerProcess, RunCommand, RunBrokerctl, TempDir, WriteFile
using nlohmann::json;

namespace {

const std::string kBrokerctl = HERALD_BROKERCTL_PATH;

bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// What `brokerctl PATH --help` lists: its subcommands and its options' names.
struct HelpPage {
  std::vector<std::string> subcommands;
  std::vector<std::string> options;
};

HelpPage ReadHelp(const std::string& path) {
  CommandResult r = RunCommand(kBrokerctl + " " + path + " --help");
  REQUIRE(r.exit_code == 0);
  HelpPage page;
  std::istringstream lines(r.out);
  std::string line, section;
  const std::regex option_name("(^|[ ,])(--?[A-Za-z][A-Za-z0-9-]*)");
  while (std::getline(lines, line)) {
    if (line.empty()) section.clear();
    else if (line == "Options:" || line == "Subcommands:") section = line;
    else if (section == "Subcommands:" && line.rfind("  ", 0) == 0 && line[2] != ' ')
      page.subcommands.push_back(line.substr(2, line.find(' ', 2) - 2));
    else if (section == "Options:" && line.rfind("  -", 0) == 0) {
      std::string names = line.substr(2, line.find(' ', 2) - 2);  // "-h,--help"
      for (std::sregex_iterator it(names.begin(), names.end(), option_name), end; it != end; ++it)
        page.options.push_back((*it)[2]);
    }
  }
  return page;
}

// Every command path of brokerctl, as its --help pages tell it.
std::vector<std::string> CommandPaths() {
  std::vector<std::string> paths = {""};
  for (std::size_t i = 0; i < paths.size(); ++i)
    for (const auto& sub : ReadHelp(paths[i]).subcommands)
      paths.push_back(paths[i].empty() ? sub : paths[i] + " " + sub);
  return paths;
}

// What bash's completion offers for `words` (the last one being completed).
std::set<std::string> BashComplete(const std::string& script_file, const std::string& words) {
  TempDir dir;
  WriteFile(dir / "complete.sh",
            "source " + script_file + "\nCOMP_WORDS=(" + words +
                ")\nCOMP_CWORD=$((${#COMP_WORDS[@]} - 1))\n_brokerctl\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n");
  CommandResult r = RunCommand("bash " + (dir / "complete.sh"));
  REQUIRE(r.exit_code == 0);
  std::set<std::string> out;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);)
    if (!line.empty()) out.insert(line);
  return out;
}

// A topic with `count` messages and a group `g` that acked them all.
void TopicWithGroup(const BrokerProcess& broker, const std::string& topic, int count) {
  REQUIRE(RunBrokerctl(broker.address(), "topic create " + topic).exit_code == 0);
  for (int i = 0; i < count; ++i)
    REQUIRE(RunBrokerctl(broker.address(), "publish " + topic + " m" + std::to_string(i)).exit_code == 0);
  REQUIRE(RunBrokerctl(broker.address(), "consume " + topic + " --group g --count " + std::to_string(count) +
                                             " --timeout 10")
              .exit_code == 0);
}

}  // namespace

TEST_CASE("brokerctl: --version prints the version brokerd prints", "[e2e][brokerctl][cli]") {
  CommandResult ctl = RunCommand(kBrokerctl + " --version");
  CommandResult brokerd = RunCommand(std::string(HERALD_BROKERD_PATH) + " --version");
  CHECK(ctl.exit_code == 0);
  CHECK(brokerd.exit_code == 0);
  CHECK_FALSE(ctl.out.empty());
  CHECK(ctl.out == brokerd.out);
}

TEST_CASE("brokerctl: completion scripts name every command and option of the tree", "[e2e][brokerctl][cli]") {
  std::vector<std::string> paths = CommandPaths();
  REQUIRE(paths.size() > 10);  // topic create, group reset, ...
  for (std::string shell : {"bash", "zsh", "fish"}) {
    INFO(shell);
    CommandResult script = RunCommand(kBrokerctl + " completion " + shell);
    REQUIRE(script.exit_code == 0);
    for (const auto& path : paths) {
      INFO("brokerctl " << path);
      if (!path.empty()) CHECK(Contains(script.out, path.substr(path.rfind(' ') + 1)));
      for (const auto& option : ReadHelp(path).options) {
        // fish names options without their dashes: "-l retention-age", "-s y".
        std::string name = shell != "fish" ? option
                           : option.rfind("--", 0) == 0 ? "-l " + option.substr(2)
                                                        : "-s " + option.substr(1);
        CHECK(Contains(script.out, name));
      }
    }
  }
}

TEST_CASE("brokerctl: bash completes commands, subcommands and options", "[e2e][brokerctl][cli]") {
  TempDir dir;
  CommandResult script = RunCommand(kBrokerctl + " completion bash");
  REQUIRE(script.exit_code == 0);
  WriteFile(dir / "brokerctl.bash", script.out);
  const std::string file = dir / "brokerctl.bash";
  CHECK(BashComplete(file, "brokerctl to") == std::set<std::string>{"token", "topic"});
  CHECK(BashComplete(file, "brokerctl top") == std::set<std::string>{"topic"});
  // An option's value in between is not a command.
  CHECK(BashComplete(file, "brokerctl --broker 127.0.0.1:7400 topic cr") == std::set<std::string>{"create"});
  CHECK(BashComplete(file, "brokerctl topic create t --retention-b") == std::set<std::string>{"--retention-bytes"});
  CHECK(BashComplete(file, "brokerctl group reset --dry") == std::set<std::string>{"--dry-run"});
}

TEST_CASE("brokerctl: an unknown command is named with the closest one, exit 2", "[e2e][brokerctl][cli]") {
  CommandResult frob = RunCommand(kBrokerctl + " topic frob");
  CHECK(frob.exit_code == 2);
  CHECK(Contains(frob.err, "unknown command 'frob'"));
  CHECK(Contains(frob.err, "did you mean '"));
  CommandResult lst = RunCommand(kBrokerctl + " --broker 127.0.0.1:1 topic lst");
  CHECK(lst.exit_code == 2);
  CHECK(Contains(lst.err, "unknown command 'lst' for 'brokerctl topic'; did you mean 'list'?"));
  CommandResult top = RunCommand(kBrokerctl + " grup list");
  CHECK(top.exit_code == 2);
  CHECK(Contains(top.err, "did you mean 'group'?"));
  // An option brokerctl does not know here may take a value: its value is not called a command.
  CommandResult misplaced = RunCommand(kBrokerctl + " --timeout 2s consume orders");
  CHECK(misplaced.exit_code == 2);
  CHECK_FALSE(Contains(misplaced.err, "unknown command"));
  CHECK(Contains(misplaced.err, "--timeout"));
}

TEST_CASE("brokerctl: messages for people carry no wire codes; --json errors do", "[e2e][brokerctl][cli]") {
  BrokerProcess broker;
  CommandResult human = RunBrokerctl(broker.address(), "topic describe nosuch");
  CHECK(human.exit_code == 4);
  CHECK(human.err == "brokerctl: topic 'nosuch' not found\n");
  CommandResult machine = RunBrokerctl(broker.address(), "--json topic describe nosuch");
  CHECK(machine.exit_code == 4);
  json error = json::parse(machine.err, nullptr, false);
  REQUIRE(error.is_object());
  CHECK(error.value("error", "") == "topic 'nosuch' not found");
  CHECK(error.value("exit_code", 0) == 4);
  CHECK(error.value("code", 0) == 8);  // TopicNotFound on the wire
}

TEST_CASE("brokerctl: group list without a topic lists every topic's groups", "[e2e][brokerctl][cli]") {
  BrokerProcess broker;
  TopicWithGroup(broker, "orders", 2);
  TopicWithGroup(broker, "payments", 1);
  REQUIRE(RunBrokerctl(broker.address(), "topic create empty").exit_code == 0);
  CommandResult table = RunBrokerctl(broker.address(), "group list");
  REQUIRE(table.exit_code == 0);
  CHECK(table.out.rfind("TOPIC", 0) == 0);
  CHECK(std::regex_search(table.out, std::regex("\norders +g +0 +2 +0 +0 ")));
  CHECK(std::regex_search(table.out, std::regex("\npayments +g +0 +1 +0 +0 ")));
  CommandResult doc = RunBrokerctl(broker.address(), "--json group list");
  REQUIRE(doc.exit_code == 0);
  json groups = json::parse(doc.out);
  REQUIRE(groups.size() == 2);
  CHECK(groups[0]["topic"] == "orders");
  CHECK(groups[1]["topic"] == "payments");
}

TEST_CASE("brokerctl: group reset --dry-run shows the change and makes none", "[e2e][brokerctl][cli]") {
  BrokerProcess broker;
  TopicWithGroup(broker, "events", 3);
  CommandResult preview = RunBrokerctl(broker.address(), "group reset events g --to earliest --dry-run");
  CHECK(preview.exit_code == 0);
  CHECK(preview.out ==
        "would reset group g on events to earliest: position 3 -> 0, lag 0 -> 3 (dry run: nothing changed)\n");
  CommandResult to_one = RunBrokerctl(broker.address(), "--json group reset events g --to 1 --dry-run");
  REQUIRE(to_one.exit_code == 0);
  json j = json::parse(to_one.out);
  CHECK(j["position"] == 3);
  CHECK(j["new_position"] == 1);
  CHECK(j["lag"] == 0);
  CHECK(j["new_lag"] == 2);
  CHECK(j["dry_run"] == true);
  // Nothing moved.
  CommandResult described = RunBrokerctl(broker.address(), "--json group describe events g");
  REQUIRE(described.exit_code == 0);
  CHECK(json::parse(described.out)["position"] == 3);
}
