// brokerctl group list|describe|reset|delete

#include <algorithm>
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
  return ReportError("group '" + args.group + "' has " + members + "; stop them first", kConflict, ec);
}

// `group list` without a topic: every topic's groups, one row each. The
// broker lists topics page by page; each is then described for its groups.
void ListAllGroups(Client& client, const GlobalOptions& global, int* exit_code) {
  std::vector<TopicInfo> topics;
  if (std::error_code ec = client.ListTopics(&topics)) {
    *exit_code = Fail("group list", ec);
    return;
  }
  std::vector<GroupInfo> groups;
  for (const auto& listed : topics) {
    TopicInfo t;
    std::error_code ec = client.DescribeTopic(listed.name, &t);
    if (ec == errc::topic_not_found) continue;  // deleted since it was listed
    if (ec) {
      *exit_code = FailOnTopic(listed.name, "group list", ec);
      return;
    }
    for (auto& g : t.groups) {
      if (g.topic.empty()) g.topic = t.name;
      groups.push_back(std::move(g));
    }
  }
  if (global.json) {
    Json doc = Json::array();
    for (const auto& g : groups) doc.push_back(ToJson(g));
    PrintJson(doc);
  } else {
    GroupTable(groups, /*with_topic=*/true).Print(std::cout);
  }
}

void AddList(CLI::App* group, const GlobalOptions& global, int* exit_code) {
  auto topic = std::make_shared<std::string>();
  auto* cmd = group->add_subcommand(
      "list", "consumer groups with position, unacked and lag: TOPIC's, or without it every topic's");
  cmd->add_option("TOPIC", *topic, "topic name; omit for the groups of every topic");
  cmd->callback([&global, exit_code, topic] {
    auto client = Connect(global, exit_code);
    if (!client) return;
    if (topic->empty()) return ListAllGroups(*client, global, exit_code);
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

// Where a reset to `to` would put the group, resolved as the broker resolves
// it (clamped to the topic's earliest..next offset; a timestamp is the first
// message at or after it). `t` is the topic as it is now.
std::error_code PreviewReset(Client& client, const TopicInfo& t, const StartPosition& to, uint64_t* position) {
  uint64_t target = t.earliest_offset;
  if (to.from == StartFrom::latest) {
    target = t.next_offset;
  } else if (to.from == StartFrom::offset) {
    target = to.offset;
  } else if (to.from == StartFrom::timestamp) {
    FetchResult r;
    if (std::error_code ec = client.Fetch(t.name, to, 1, &r)) return ec;
    target = r.messages.empty() ? r.end_offset : r.messages.front().offset;
  }
  *position = std::clamp(target, t.earliest_offset, t.next_offset);
  return {};
}

// `group reset --dry-run`: the group's position and lag now and after such a
// reset; nothing changes.
void RunResetPreview(Client& client, const GlobalOptions& global, const GroupArgs& args, const std::string& to_text,
                     const StartPosition& to, int* exit_code) {
  TopicInfo t;
  if (std::error_code ec = client.DescribeTopic(args.topic, &t)) {
    *exit_code = FailOnTopic(args.topic, "group reset --dry-run", ec);
    return;
  }
  if (t.name.empty()) t.name = args.topic;
  GroupInfo g;
  if (std::error_code ec = client.DescribeGroup(args.topic, args.group, &g)) {
    *exit_code = FailOnGroup(args.topic, args.group, "group reset --dry-run", ec);
    return;
  }
  uint64_t after = 0;
  if (std::error_code ec = PreviewReset(client, t, to, &after)) {
    *exit_code = FailOnTopic(args.topic, "group reset --dry-run", ec);
    return;
  }
  uint64_t lag_after = t.next_offset - after;
  if (global.json) {
    PrintJson({{"topic", args.topic}, {"group", args.group}, {"dry_run", true}, {"members", g.members},
               {"position", g.ack_floor}, {"new_position", after}, {"lag", g.lag}, {"new_lag", lag_after}});
    return;
  }
  std::cout << "would reset group " << args.group << " on " << args.topic << " to " << to_text << ": position "
            << g.ack_floor << " -> " << after << ", lag " << g.lag << " -> " << lag_after
            << " (dry run: nothing changed)\n";
  if (g.members > 0)
    std::cout << "the group has " << g.members << (g.members == 1 ? " member" : " members")
              << ": a reset is refused until they stop\n";
}

void AddReset(CLI::App* group, const GlobalOptions& global, int* exit_code) {
  struct Args : GroupArgs {
    std::string to;
    bool dry_run = false;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = group->add_subcommand(
      "reset", "move an idle group (no members) to a new position; its unacked messages are "
               "forgotten, and it reads again from there");
  AddTopicAndGroup(cmd, args.get());
  cmd->add_option("--to", args->to, std::string("new position: ") + kPositionHelp)->required();
  cmd->add_flag("--dry-run", args->dry_run,
                "show the position and lag now and after the reset, and change nothing");
  cmd->callback([&global, exit_code, args] {
    auto to = ParsePosition(args->to);
    if (!to) {
      *exit_code = Invalid(std::string("--to wants ") + kPositionHelp + ", got '" + args->to + "'");
      return;
    }
    auto client = Connect(global, exit_code);
    if (!client) return;
    if (args->dry_run) return RunResetPreview(*client, global, *args, args->to, *to, exit_code);
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
