// brokerctl status: what the broker is and holds.

#include <iostream>

#include "brokerctl.h"
#include "output.h"
#include "render.h"

namespace herald::ctl {

void AddStatusCommand(CLI::App& app, const GlobalOptions& global, int* exit_code) {
  auto* cmd = app.add_subcommand(
      "status", "broker version, uptime, data dir, topics, groups, connections, storage size");
  cmd->callback([&global, exit_code] {
    auto client = Connect(global, exit_code);
    if (!client) return;
    BrokerStatus s;
    if (std::error_code ec = client->Status(&s)) {
      *exit_code = Fail("status", ec);
      return;
    }
    if (global.json) {
      PrintJson(ToJson(s));
      return;
    }
    PrintFields(std::cout, {
        {"broker", global.broker},
        {"version", s.broker_version},
        {"uptime", DurationText(s.uptime)},
        {"data dir", s.data_dir},
        {"topics", std::to_string(s.topics)},
        {"groups", std::to_string(s.groups)},
        {"connections", std::to_string(s.connections)},
        {"storage", SizeText(s.storage_bytes) + " (" + std::to_string(s.storage_bytes) + " bytes)"},
    });
  });
}

}  // namespace herald::ctl
