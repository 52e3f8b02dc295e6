// brokerctl topic create|list

#include <algorithm>
#include <cstdio>
#include <iostream>

#include <fmt/format.h>

#include "brokerctl.h"

namespace herald::ctl {

void AddTopicCommands(CLI::App& app, const GlobalOptions& global, int* exit_code) {
  auto* topic = app.add_subcommand("topic", "create and list topics");
  topic->require_subcommand(1);

  auto* create = topic->add_subcommand("create", "create a topic (no error if it exists)");
  auto name = std::make_shared<std::string>();
  create->add_option("NAME", *name, "topic name: [A-Za-z0-9._-]{1,249}")->required();
  create->callback([&global, exit_code, name] {
    auto client = Connect(global, exit_code);
    if (!client) return;
    bool created = false;
    if (std::error_code ec = client->CreateTopic(*name, &created)) {
      *exit_code = Fail("topic create " + *name, ec);
      return;
    }
    std::cout << (created ? "created topic " : "topic exists: ") << *name << "\n";
  });

  auto* list = topic->add_subcommand("list", "list topics with their offsets and groups");
  list->callback([&global, exit_code] {
    auto client = Connect(global, exit_code);
    if (!client) return;
    std::vector<TopicInfo> topics;
    if (std::error_code ec = client->ListTopics(&topics)) {
      *exit_code = Fail("topic list", ec);
      return;
    }
    std::size_t width = 5;  // "TOPIC"
    for (const auto& t : topics) width = std::max(width, t.name.size());
    std::cout << fmt::format("{:<{}}  {:>12}  {:>12}  {}\n", "TOPIC", width, "EARLIEST", "NEXT", "GROUPS");
    for (const auto& t : topics) {
      std::string groups;
      for (const auto& g : t.groups) groups += (groups.empty() ? "" : ",") + g.name;
      std::cout << fmt::format("{:<{}}  {:>12}  {:>12}  {}\n", t.name, width, t.earliest_offset,
                               t.next_offset, groups.empty() ? "-" : groups);
    }
  });
}

}  // namespace herald::ctl
