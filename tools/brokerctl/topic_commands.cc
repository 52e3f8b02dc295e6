// brokerctl topic create|list|describe|alter|delete|purge

#include <iostream>

#include "brokerctl.h"
#include "output.h"
#include "parse.h"
#include "render.h"

namespace herald::ctl {

namespace {

void AddCreate(CLI::App* topic, const GlobalOptions& global, int* exit_code) {
  struct Args {
    std::string name;
    RetentionFlags retention;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = topic->add_subcommand(
      "create",
      "create a topic (no error if it exists). Without --retention-* flags the topic gets the "
      "broker's default retention; with any, exactly the limits given (the others unlimited)");
  cmd->add_option("NAME", args->name, "topic name: [A-Za-z0-9._-]{1,249}")->required();
  args->retention.AddTo(cmd);
  cmd->callback([&global, exit_code, args] {
    Retention retention;  // all unlimited; the flags fill in theirs
    if (std::string bad = args->retention.ApplyTo(&retention); !bad.empty()) {
      *exit_code = Invalid(bad);
      return;
    }
    auto client = Connect(global, exit_code);
    if (!client) return;
    bool created = false;
    std::error_code ec = args->retention.any()
                             ? client->CreateTopic(args->name, retention, &created)
                             : client->CreateTopic(args->name, &created);
    if (ec) {
      *exit_code = Fail("topic create " + args->name, ec);
      return;
    }
    if (global.json) {
      PrintJson({{"topic", args->name}, {"created", created}});
    } else if (created) {
      std::cout << "created topic " << args->name << "\n";
    } else {
      std::cout << "topic exists: " << args->name
                << (args->retention.any() ? " (retention unchanged; see 'topic alter')" : "") << "\n";
    }
  });
}

void PrintTopicTable(const std::vector<TopicInfo>& topics) {
  Table table({{"TOPIC"}, {"EARLIEST", true}, {"NEXT", true}, {"MESSAGES", true}, {"SIZE", true},
               {"GROUPS"}});
  for (const auto& t : topics) {
    std::string groups;
    for (const auto& g : t.groups) groups += (groups.empty() ? "" : ",") + g.name;
    table.Add({t.name, std::to_string(t.earliest_offset), std::to_string(t.next_offset),
               std::to_string(t.message_count), SizeText(t.bytes), groups.empty() ? "-" : groups});
  }
  table.Print(std::cout);
}

void AddList(CLI::App* topic, const GlobalOptions& global, int* exit_code) {
  struct Args {
    uint32_t limit = 0;
    std::string after;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = topic->add_subcommand(
      "list", "list topics in name order with their offsets, sizes and groups: all of them, or "
              "with --limit/--after one page and the cursor of the next (--json: "
              "{\"topics\": [...], \"next\": NAME, \"\" after the last page})");
  auto* limit = cmd->add_option(
      "--limit", args->limit,
      "one page of at most N topics (0: the broker's default, 100; at most 1,000)");
  auto* after = cmd->add_option(
      "--after", args->after,
      "one page of the topics named after NAME (the 'next' a previous page printed)");
  cmd->callback([&global, exit_code, args, limit, after] {
    auto client = Connect(global, exit_code);
    if (!client) return;
    if (limit->count() == 0 && after->count() == 0) {
      std::vector<TopicInfo> topics;  // every page, one request each
      if (std::error_code ec = client->ListTopics(&topics)) {
        *exit_code = Fail("topic list", ec);
        return;
      }
      if (global.json) {
        Json doc = Json::array();
        for (const auto& t : topics) doc.push_back(ToJson(t));
        PrintJson(doc);
      } else {
        PrintTopicTable(topics);
      }
      return;
    }
    TopicPage page;
    if (std::error_code ec = client->ListTopics(args->after, args->limit, &page)) {
      *exit_code = Fail("topic list", ec);
      return;
    }
    if (global.json) {
      Json doc = {{"topics", Json::array()}, {"next", page.next}};
      for (const auto& t : page.topics) doc["topics"].push_back(ToJson(t));
      PrintJson(doc);
      return;
    }
    PrintTopicTable(page.topics);
    if (page.next.empty()) {
      std::cout << "(last page)\n";
    } else {
      std::cout << "next page: --after " << page.next << "\n";
    }
  });
}

void AddDescribe(CLI::App* topic, const GlobalOptions& global, int* exit_code) {
  auto name = std::make_shared<std::string>();
  auto* cmd = topic->add_subcommand(
      "describe", "a topic's offsets, message count, size, retention and groups");
  cmd->add_option("NAME", *name, "topic name")->required();
  cmd->callback([&global, exit_code, name] {
    auto client = Connect(global, exit_code);
    if (!client) return;
    TopicInfo t;
    if (std::error_code ec = client->DescribeTopic(*name, &t)) {
      *exit_code = FailOnTopic(*name, "topic describe " + *name, ec);
      return;
    }
    if (global.json) {
      PrintJson(ToJson(t));
      return;
    }
    PrintFields(std::cout, {
        {"topic", t.name},
        {"offsets", OffsetRange(t.earliest_offset, t.next_offset) + " (next " +
                        std::to_string(t.next_offset) + ")"},
        {"messages", std::to_string(t.message_count)},
        {"size", SizeText(t.bytes) + " (" + std::to_string(t.bytes) + " bytes)"},
        {"retention", RetentionText(t.retention)},
    });
    std::cout << "\n";
    if (t.groups.empty()) {
      std::cout << "no groups\n";
    } else {
      GroupTable(t.groups).Print(std::cout);
    }
  });
}

void AddAlter(CLI::App* topic, const GlobalOptions& global, int* exit_code) {
  struct Args {
    std::string name;
    RetentionFlags retention;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = topic->add_subcommand(
      "alter", "change a topic's retention: the limits given replace the topic's, the others "
               "stay; 0 removes a limit (e.g. --retention-age 0)");
  cmd->add_option("NAME", args->name, "topic name")->required();
  args->retention.AddTo(cmd);
  cmd->callback([&global, exit_code, args] {
    if (!args->retention.any()) {
      std::cerr << "brokerctl: topic alter: give at least one --retention-* flag\n";
      *exit_code = kUsage;
      return;
    }
    Retention probe;  // reject a malformed value before touching the broker
    if (std::string bad = args->retention.ApplyTo(&probe); !bad.empty()) {
      *exit_code = Invalid(bad);
      return;
    }
    auto client = Connect(global, exit_code);
    if (!client) return;
    TopicInfo t;
    if (std::error_code ec = client->DescribeTopic(args->name, &t)) {
      *exit_code = FailOnTopic(args->name, "topic alter " + args->name, ec);
      return;
    }
    Retention retention = t.retention;
    args->retention.ApplyTo(&retention);
    if (std::error_code ec = client->AlterTopic(args->name, retention, &t)) {
      *exit_code = FailOnTopic(args->name, "topic alter " + args->name, ec);
      return;
    }
    if (global.json) {
      PrintJson(ToJson(t));
    } else {
      std::cout << "topic " << t.name << " retention: " << RetentionText(t.retention) << "\n";
    }
  });
}

void AddDelete(CLI::App* topic, const GlobalOptions& global, int* exit_code) {
  struct Args {
    std::string name;
    bool yes = false;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = topic->add_subcommand(
      "delete", "delete a topic with its messages and groups (asks first unless --yes)");
  cmd->add_option("NAME", args->name, "topic name")->required();
  cmd->add_flag("-y,--yes", args->yes, "do not ask; required when stdin is not a terminal");
  cmd->callback([&global, exit_code, args] {
    auto client = Connect(global, exit_code);
    if (!client) return;
    TopicInfo t;
    if (std::error_code ec = client->DescribeTopic(args->name, &t)) {
      *exit_code = FailOnTopic(args->name, "topic delete " + args->name, ec);
      return;
    }
    std::string question = "delete topic " + args->name + " with " +
                           std::to_string(t.message_count) + " messages?";
    if ((*exit_code = Confirm(question, args->yes)) != kOk) return;
    if (std::error_code ec = client->DeleteTopic(args->name)) {
      *exit_code = FailOnTopic(args->name, "topic delete " + args->name, ec);
      return;
    }
    if (global.json) {
      PrintJson({{"topic", args->name}, {"deleted", true}, {"messages", t.message_count}});
    } else {
      std::cout << "deleted topic " << args->name << "\n";
    }
  });
}

void AddPurge(CLI::App* topic, const GlobalOptions& global, int* exit_code) {
  struct Args {
    std::string name;
    bool yes = false;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = topic->add_subcommand(
      "purge", "remove every message of a topic; the topic and its groups stay, and new messages "
               "continue after the old offsets (asks first unless --yes)");
  cmd->add_option("NAME", args->name, "topic name")->required();
  cmd->add_flag("-y,--yes", args->yes, "do not ask; required when stdin is not a terminal");
  cmd->callback([&global, exit_code, args] {
    RunPurge(global, args->name, args->yes, "messages", "topic purge " + args->name, exit_code);
  });
}

}  // namespace

void RunPurge(const GlobalOptions& global, const std::string& topic, bool yes, const std::string& noun,
              const std::string& what, int* exit_code) {
  auto client = Connect(global, exit_code);
  if (!client) return;
  TopicInfo t;
  if (std::error_code ec = client->DescribeTopic(topic, &t)) {
    *exit_code = FailOnTopic(topic, what, ec);
    return;
  }
  std::string question = "purge " + std::to_string(t.message_count) + " " + noun + " from " + topic + "?";
  if ((*exit_code = Confirm(question, yes)) != kOk) return;
  const uint64_t purged = t.message_count;
  if (std::error_code ec = client->PurgeTopic(topic, &t)) {
    *exit_code = FailOnTopic(topic, what, ec);
    return;
  }
  if (global.json) {
    PrintJson({{"topic", topic}, {"purged", purged}, {"earliest_offset", t.earliest_offset}});
  } else {
    std::cout << "purged " << purged << " " << noun << " from " << topic << "\n";
  }
}

void AddTopicCommands(CLI::App& app, const GlobalOptions& global, int* exit_code) {
  auto* topic = app.add_subcommand("topic", "create, list, describe, alter, delete and purge topics");
  topic->require_subcommand(1);
  AddCreate(topic, global, exit_code);
  AddList(topic, global, exit_code);
  AddDescribe(topic, global, exit_code);
  AddAlter(topic, global, exit_code);
  AddDelete(topic, global, exit_code);
  AddPurge(topic, global, exit_code);
}

}  // namespace herald::ctl
