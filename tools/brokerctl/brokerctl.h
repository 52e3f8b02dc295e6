#pragma once
// brokerctl's shared pieces: global options, the connection, and how errors
// become messages on stderr and exit codes.

#include <chrono>
#include <memory>
#include <string>
#include <system_error>

#include <CLI/CLI.hpp>

#include "herald/client.h"

namespace herald::ctl {

// Exit codes: 0 ok, 1 other failure, 2 usage (CLI11), 3 cannot connect, 4 not found.
enum ExitCode : int { kOk = 0, kFailed = 1, kUsage = 2, kCannotConnect = 3, kNotFound = 4 };

struct GlobalOptions {
  std::string broker;  // --broker, else $HERALD_BROKER, else 127.0.0.1:7400
  double connect_timeout_s = 5;
};

// Connects to the broker; on failure prints why and sets *exit_code.
std::unique_ptr<Client> Connect(const GlobalOptions& options, int* exit_code);

// Prints "brokerctl: <what>: <error> (code N)" and returns the exit code for it.
int Fail(const std::string& what, std::error_code ec);
// The same for a request about one topic; a missing topic is reported as
// "brokerctl: topic 'NAME' not found (code 8)".
int FailOnTopic(const std::string& topic, const std::string& what, std::error_code ec);

// Each command file registers its subcommands; `run` receives the exit code.
void AddTopicCommands(CLI::App& app, const GlobalOptions& global, int* exit_code);
void AddPublishCommand(CLI::App& app, const GlobalOptions& global, int* exit_code);
void AddConsumeCommand(CLI::App& app, const GlobalOptions& global, int* exit_code);

}  // namespace herald::ctl
