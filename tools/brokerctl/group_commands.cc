// brokerctl group list|describe|reset|delete

#include <iostream>

#include "brokerctl.h"
#include "output.h"
#include "parse.h"
#include "render.h"

namespace herald::ctl {

namespace {

struct GroupArgs {
  std::string topic, group;
};

void AddTopicAndGroup(CLI::App* cmd, GroupArgs* args) {
  cmd->add_option("TOPIC", args->topic, "topic name")->required();
  cmd->add_option("GROUP", args->group, "consumer group name")->required();
}

// Reset and delete need an idle group; name how many members are in the way
// (asked again, since the error reply carries no count).
int FailOnBusy(Client& client, const GroupArgs& args, const std::string& what, std::error_code ec) {
  if (ec != errc::group_busy) return FailOnGroup(args.topic, args.group, what, ec);
  GroupInfo g;
  std::string members = client.DescribeGroup(args.topic, args.group, &g) ? "members"
                        : g.members == 1 ? "1 member"
                                         : std::to_string(g.members) + " members";
  std::cerr << "brokerctl: group '" << args.group << "' has " << members
            << "; stop them first (code " << ec.value() << ")\n";
  return kConflict;
}

void AddList(CLI::App* group, const GlobalOptions& global, int* exit_code) {
  auto topic = std::make_shared<std::string>();
  auto* cmd = group->add_subcommand("list", "a topic's consumer groups with position, unacked and lag");
  cmd->add_option("TOPIC", *topic, "topic name")->required();
  cmd->callback([&global, exit_code, topic] {
    auto client = Connect(global, exit_code);
    if (!client) return;
    TopicInfo t;
    if (std::error_code ec = client->DescribeTopic(*topic, &t)) {
      *exit_code = FailOnTopic(*topic, "group list " + *topic, ec);
      return;
    }
    if (global.json) {
      Json doc = Json::array();
      for (const auto& g : t.groups) doc.push_back(ToJson(g));
      PrintJson(doc);
    } else {
      GroupTable(t.groups).Print(std::cout);
    }
  });
}

void AddDescribe(CLI::App* group, const GlobalOptions& global, int* exit_code) {
  auto args = std::make_shared<GroupArgs>();
  auto* cmd = group->add_subcommand(
      "describe",
      "one group: members, position (every offset below it is acked), unacked, lag, oldest "
      "unacked age, skipped, dead-lettered, redeliveries, max deliveries, backoff");
  AddTopicAndGroup(cmd, args.get());
  cmd->callback([&global, exit_code, args] {
    auto client = Connect(global, exit_code);
    if (!client) return;
    GroupInfo g;
    if (std::error_code ec = client->DescribeGroup(args->topic, args->group, &g)) {
      *exit_code = FailOnGroup(args->topic, args->group, "group describe", ec);
      return;
    }
    if (g.topic.empty()) g.topic = args->topic;
    if (global.json) {
      PrintJson(ToJson(g));
    } else {
      PrintGroup(g);
    }
  });
}

void AddReset(CLI::App* group, const GlobalOptions& global, int* exit_code) {
  struct Args : GroupArgs {
    std::string to;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = group->add_subcommand(
      "reset", "move an idle group (no members) to a new position; its unacked messages are "
               "forgotten, and it reads again from there");
  AddTopicAndGroup(cmd, args.get());
  cmd->add_option("--to", args->to, std::string("new position: ") + kPositionHelp)->required();
  cmd->callback([&global, exit_code, args] {
    auto to = ParsePosition(args->to);
    if (!to) {
      *exit_code = Invalid(std::string("--to wants ") + kPositionHelp + ", got '" + args->to + "'");
      return;
    }
    auto client = Connect(global, exit_code);
    if (!client) return;
    GroupInfo g;
    if (std::error_code ec = client->ResetGroup(args->topic, args->group, *to, &g)) {
      *exit_code = FailOnBusy(*client, *args, "group reset " + args->topic + " " + args->group, ec);
      return;
    }
    if (g.topic.empty()) g.topic = args->topic;
    if (global.json) {
      PrintJson(ToJson(g));
    } else {
      std::cout << "reset group " << args->group << " on " << args->topic << " to " << args->to
                << ": position " << g.ack_floor << ", lag " << g.lag << "\n";
    }
  });
}

void AddDelete(CLI::App* group, const GlobalOptions& global, int* exit_code) {
  auto args = std::make_shared<GroupArgs>();
  auto* cmd = group->add_subcommand("delete", "delete an idle group (no members) and its position");
  AddTopicAndGroup(cmd, args.get());
  cmd->callback([&global, exit_code, args] {
    auto client = Connect(global, exit_code);
    if (!client) return;
    if (std::error_code ec = client->DeleteGroup(args->topic, args->group)) {
      *exit_code = FailOnBusy(*client, *args, "group delete", ec);
      return;
    }
    if (global.json) {
      PrintJson({{"topic", args->topic}, {"group", args->group}, {"deleted", true}});
    } else {
      std::cout << "deleted group " << args->group << " from topic " << args->topic << "\n";
    }
  });
}

}  // namespace

void AddGroupCommands(CLI::App& app, const GlobalOptions& global, int* exit_code) {
  auto* group = app.add_subcommand("group", "list, describe, reset and delete consumer groups");
  group->require_subcommand(1);
  AddList(group, global, exit_code);
  AddDescribe(group, global, exit_code);
  AddReset(group, global, exit_code);
  AddDelete(group, global, exit_code);
}

}  // namespace herald::ctl
