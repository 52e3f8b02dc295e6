#pragma once
// brokerctl's shared pieces: global options, exit codes, the connection, and
// the registration of each noun's subcommands (one file per noun).

#include <chrono>
#include <memory>
#include <string>
#include <system_error>

#include <CLI/CLI.hpp>

#include "herald/client.h"

namespace herald::ctl {

// Stable: scripts branch on them. output.cc maps SDK errors onto them.
enum ExitCode : int {
  kOk = 0,
  kFailed = 1,           // anything not below
  kUsage = 2,            // the command line does not parse (CLI11)
  kCannotConnect = 3,
  kNotFound = 4,         // topic, group or subscription
  kInvalidArgument = 5,  // bad duration/size/timestamp/name, refused confirmation
  kConflict = 6,         // the group has members
  kAuth = 7,             // the broker refused the token, or the principal may not do this
  kNotSupported = 8,     // the engine behind --broker cannot do this (e.g. status on NATS JetStream)
};

struct GlobalOptions {
  std::string broker;  // --broker (HOST:PORT, herald://..., nats://...), else $HERALD_BROKER, else 127.0.0.1:7400
  std::chrono::milliseconds connect_timeout = std::chrono::seconds(5);
  bool json = false;   // --json: machine-readable output on stdout
  std::string token;   // --token; empty: the SDK reads $HERALD_TOKEN
  bool tls = false;    // --tls; --tls-ca and --tls-server-name imply it
  std::string tls_ca;
  std::string tls_server_name;
  bool allow_plaintext_token = false;  // --allow-plaintext-token or $HERALD_ALLOW_PLAINTEXT_TOKEN
};

// Connects to the broker; on failure prints why and sets *exit_code. Notes
// the broker for error messages (NoteBroker).
std::unique_ptr<Client> Connect(const GlobalOptions& options, int* exit_code);

// Each command file registers its subcommands; `run` writes the exit code.
// `global` and `exit_code` outlive the parse (they live in main).
void AddStatusCommand(CLI::App& app, const GlobalOptions& global, int* exit_code);
void AddTopicCommands(CLI::App& app, const GlobalOptions& global, int* exit_code);
void AddGroupCommands(CLI::App& app, const GlobalOptions& global, int* exit_code);
void AddPublishCommand(CLI::App& app, const GlobalOptions& global, int* exit_code);
void AddConsumeCommand(CLI::App& app, const GlobalOptions& global, int* exit_code);
void AddTailCommand(CLI::App& app, const GlobalOptions& global, int* exit_code);
void AddDlqCommands(CLI::App& app, const GlobalOptions& global, int* exit_code);
// `token new` and `token hash` work offline: they never connect.
void AddTokenCommands(CLI::App& app, const GlobalOptions& global, int* exit_code);
// Offline too: prints a completion script made from `app`'s command tree,
// so register it after every other command.
void AddCompletionCommand(CLI::App& app, const GlobalOptions& global, int* exit_code);

// What `topic purge` and `dlq purge` run (topic_commands.cc): connects, asks
// "purge N <noun> from TOPIC?" unless `yes`, purges and prints what went.
// `what` names the command in errors.
void RunPurge(const GlobalOptions& global, const std::string& topic, bool yes, const std::string& noun,
              const std::string& what, int* exit_code);

}  // namespace herald::ctl
