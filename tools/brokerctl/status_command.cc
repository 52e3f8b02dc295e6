// brokerctl status: what the broker is and holds, and who we are to it.

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
    // Empty when the broker has auth off.
    std::string principal = client->Principal();
    if (global.json) {
      Json doc = ToJson(s);
      if (!principal.empty()) doc["principal"] = principal;
      PrintJson(doc);
      return;
    }
    bool tls = global.tls || !global.tls_ca.empty() || !global.tls_server_name.empty();
    std::vector<std::pair<std::string, std::string>> fields = {
        {"broker", global.broker + (tls ? " (TLS)" : "")},
        {"version", s.broker_version},
        {"uptime", DurationText(s.uptime)},
        {"data dir", s.data_dir},
        {"topics", std::to_string(s.topics)},
        {"groups", std::to_string(s.groups)},
        {"connections", std::to_string(s.connections)},
        {"storage", SizeText(s.storage_bytes) + " (" + std::to_string(s.storage_bytes) + " bytes)"},
        {"last reload", ReloadText(s)},
    };
    if (!principal.empty()) fields.insert(fields.begin() + 1, {"principal", principal});
    PrintFields(std::cout, fields);
  });
}

}  // namespace herald::ctl
