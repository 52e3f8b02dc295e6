// brokerctl: Herald's admin CLI. Each noun lives in its own file.

#include <cstdlib>
#include <iostream>

#include "brokerctl.h"

namespace herald::ctl {

std::unique_ptr<Client> Connect(const GlobalOptions& options, int* exit_code) {
  ClientOptions co;
  co.broker = options.broker;
  co.client_name = "brokerctl";
  auto client = std::make_unique<Client>(co);
  auto timeout = std::chrono::milliseconds(static_cast<int64_t>(options.connect_timeout_s * 1000));
  if (std::error_code ec = client->WaitConnected(timeout)) {
    std::cerr << "brokerctl: cannot connect to " << options.broker << " within "
              << options.connect_timeout_s << " s\n";
    *exit_code = kCannotConnect;
    return nullptr;
  }
  return client;
}

int Fail(const std::string& what, std::error_code ec) {
  std::cerr << "brokerctl: " << what << ": " << ec.message() << " (code " << ec.value() << ")\n";
  if (ec == errc::topic_not_found || ec == errc::subscription_not_found) return kNotFound;
  if (ec == errc::not_connected) return kCannotConnect;
  return kFailed;
}

int FailOnTopic(const std::string& topic, const std::string& what, std::error_code ec) {
  if (ec == errc::topic_not_found) {
    std::cerr << "brokerctl: topic '" << topic << "' not found (code " << ec.value() << ")\n";
    return kNotFound;
  }
  return Fail(what, ec);
}

}  // namespace herald::ctl

int main(int argc, char** argv) {
  using namespace herald::ctl;
  GlobalOptions global;
  if (const char* env = std::getenv("HERALD_BROKER")) global.broker = env;
  if (global.broker.empty()) global.broker = "127.0.0.1:7400";

  CLI::App app{"brokerctl: administer a Herald broker"};
  app.require_subcommand(1);
  app.add_option("--broker", global.broker, "HOST:PORT of the broker (env HERALD_BROKER)")
      ->capture_default_str();
  app.add_option("--connect-timeout", global.connect_timeout_s, "seconds to wait for the broker")
      ->capture_default_str();
  int exit_code = kOk;
  AddTopicCommands(app, global, &exit_code);
  AddPublishCommand(app, global, &exit_code);
  AddConsumeCommand(app, global, &exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : kUsage;
  }
  return exit_code;
}
