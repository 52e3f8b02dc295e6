// brokerctl publish TOPIC [--key K] [--header NAME=VALUE]... [MESSAGE]
// Without MESSAGE, publishes one message per line of stdin. Waits for every ack.

#include <iostream>

#include "brokerctl.h"

namespace herald::ctl {

void AddPublishCommand(CLI::App& app, const GlobalOptions& global, int* exit_code) {
  struct Args {
    std::string topic, key, message;
    std::vector<std::string> headers;
    bool has_key = false, has_message = false;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("publish", "publish a message, or one per stdin line");
  cmd->add_option("TOPIC", args->topic, "topic to publish to")->required();
  auto* msg = cmd->add_option("MESSAGE", args->message, "payload; omit to read lines from stdin");
  auto* key = cmd->add_option("--key", args->key, "message key (per-key order)");
  cmd->add_option("--header", args->headers, "NAME=VALUE, repeatable")
      ->allow_extra_args(false);  // one NAME=VALUE per --header, so MESSAGE may follow
  cmd->callback([&global, exit_code, args, msg, key] {
    Message base;
    if (*key) base.key = args->key;
    for (const auto& h : args->headers) {
      auto eq = h.find('=');
      if (eq == std::string::npos || eq == 0) {
        std::cerr << "brokerctl: --header wants NAME=VALUE, got '" << h << "'\n";
        *exit_code = kUsage;
        return;
      }
      base.headers.push_back({h.substr(0, eq), h.substr(eq + 1)});
    }
    auto client = Connect(global, exit_code);
    if (!client) return;

    std::vector<std::future<PublishResult>> acks;
    auto publish = [&](std::string payload) {
      Message m = base;
      m.payload = std::move(payload);
      acks.push_back(client->Publish(args->topic, std::move(m)));
    };
    if (*msg) {
      publish(args->message);
    } else {
      for (std::string line; std::getline(std::cin, line);) publish(line);
    }
    std::size_t failed = 0;
    std::error_code first;
    for (auto& f : acks) {
      PublishResult r = f.get();
      if (r.error && !failed++) first = r.error;
    }
    if (failed) {
      *exit_code = Fail(std::to_string(failed) + " of " + std::to_string(acks.size()) +
                            " messages not published to " + args->topic,
                        first);
    }
  });
}

}  // namespace herald::ctl
