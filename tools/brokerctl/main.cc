// brokerctl: Herald's admin CLI. Each noun lives in its own file; output.cc
// holds what they share (errors, exit codes, tables, JSON).

#include <cstdlib>
#include <iostream>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "brokerctl.h"
#include "command_tree.h"
#include "output.h"
#include "parse.h"
#include "schemas/units.h"

namespace herald::ctl {

namespace {

constexpr const char* kFooter = R"(
Every command talks to the broker given by --broker (or $HERALD_BROKER):
HOST:PORT or herald://HOST:PORT for brokerd, nats://HOST:PORT[,HOST:PORT...]
for a NATS JetStream server or cluster (the SDK's mapping: client/NATS.md).
On NATS JetStream, status, topic alter, group reset, consume without --group
and tail (they need brokerd's Status, AlterTopic, ResetGroup and Fetch) are
not supported: they exit 8 and say so.
A broker with auth on needs a token: --token TOKEN, or $HERALD_TOKEN (better:
command lines are visible to other users). A broker serving TLS needs --tls;
its certificate must chain to the system's CAs, or to --tls-ca FILE, and name
the broker's host (or --tls-server-name NAME). Without TLS a token is sent
only to a broker on this machine (a loopback address); elsewhere brokerctl
refuses before connecting (exit 5) unless --allow-plaintext-token (or
$HERALD_ALLOW_PLAINTEXT_TOKEN=1) says the network is trusted. 'brokerctl token
new' makes a token and the principals-file entry for brokerd --auth-file.
Output is a table or "field: value" lines; with --json, one JSON document on
stdout (consume and tail: one JSON object per message and line). Errors go to
stderr.

Positions (--from, --to): earliest, latest, an OFFSET, or an RFC 3339 TIMESTAMP
such as 2026-11-25T10:00:00Z (the first message appended at or after it).
Durations: 250ms, 90s, 15m, 12h, 7d, 2w. Sizes: 4096, 512KiB, 512MiB, 10GB.

Exit codes:
  0  ok
  1  failed (any other error)
  2  usage: the command line does not parse
  3  cannot connect to the broker (none there, or its TLS certificate does
     not verify)
  4  not found: topic or group
  5  invalid argument: bad duration, size, timestamp or name, a refused
     confirmation, or a token that would go in clear (see above)
  6  conflict: the group has members (stop them first)
  7  authentication failed (a missing or unknown token) or not authorized
     (the principal's ACL does not allow the request)
  8  not supported by the broker's engine (e.g. status on NATS JetStream)

Run 'brokerctl COMMAND --help' (e.g. 'brokerctl topic create --help') for a
command's options.)";

}  // namespace

std::unique_ptr<Client> Connect(const GlobalOptions& options, int* exit_code) {
  NoteBroker(options.broker);
  ClientOptions co;
  co.broker = options.broker;
  co.client_name = "brokerctl";
  co.token = options.token;
  co.tls = options.tls || !options.tls_ca.empty() || !options.tls_server_name.empty();
  co.tls_ca_file = options.tls_ca;
  co.tls_server_name = options.tls_server_name;
  co.allow_plaintext_token = options.allow_plaintext_token;
  auto client = std::make_unique<Client>(co);
  if (std::error_code ec = client->WaitConnected(options.connect_timeout)) {
    int code = ec == errc::authentication_failed     ? kAuth
               : ec == errc::plaintext_token_refused ? kInvalidArgument
                                                     : kCannotConnect;
    if (ec == errc::not_connected) {
      *exit_code = ReportError("cannot connect to " + options.broker + " within " +
                                   herald::wire::FormatDuration(options.connect_timeout),
                               code, ec);
    } else {
      // Refused (a token, a certificate): the SDK knows it will not get better.
      *exit_code = ReportError("cannot connect to " + options.broker + ": " + ec.message(), code, ec);
    }
    return nullptr;
  }
  return client;
}

}  // namespace herald::ctl

int main(int argc, char** argv) {
  using namespace herald::ctl;
  // The SDK logs through spdlog's default logger, which writes to stdout; a
  // warning of a slow broker would land in the middle of a table, a JSON
  // document or a consumed message. stdout is brokerctl's output alone.
  spdlog::set_default_logger(spdlog::stderr_color_mt("herald"));
  GlobalOptions global;
  if (const char* env = std::getenv("HERALD_BROKER")) global.broker = env;
  if (global.broker.empty()) global.broker = "127.0.0.1:7400";

  CLI::App app{"brokerctl: administer a Herald broker", "brokerctl"};
  app.set_version_flag("--version", HERALD_VERSION);
  app.require_subcommand(1);
  // Subcommands inherit this, so global flags work after the command too:
  // `brokerctl topic list --json`.
  app.fallthrough();
  app.add_option("--broker", global.broker,
                 "the broker: HOST:PORT or herald://HOST:PORT (brokerd), or "
                 "nats://HOST:PORT[,HOST:PORT...] (NATS JetStream) (env HERALD_BROKER)")
      ->capture_default_str();
  herald::wire::AddDurationFlag(app, "--connect-timeout", &global.connect_timeout, kSecondsFlag,
                                "how long to wait for the broker (a bare number is seconds)");
  app.add_flag("--json", global.json, "print JSON instead of tables");
  // No default shown for the token: --help must not print a secret.
  app.add_option("--token", global.token, "the principal's token (env HERALD_TOKEN)");
  app.add_flag("--tls", global.tls, "connect with TLS, verifying the broker's certificate");
  app.add_option("--tls-ca", global.tls_ca,
                 "PEM file of the CAs to trust instead of the system's (implies --tls) (env HERALD_TLS_CA)")
      ->envname("HERALD_TLS_CA");
  app.add_option("--tls-server-name", global.tls_server_name,
                 "the name the broker's certificate must carry; default: the host of --broker (implies --tls) "
                 "(env HERALD_TLS_SERVER_NAME)")
      ->envname("HERALD_TLS_SERVER_NAME");
  app.add_flag("--allow-plaintext-token", global.allow_plaintext_token,
               "send the token without TLS to a broker that is not on loopback (a trusted network)")
      ->envname("HERALD_ALLOW_PLAINTEXT_TOKEN");
  int exit_code = kOk;
  AddStatusCommand(app, global, &exit_code);
  AddTopicCommands(app, global, &exit_code);
  AddGroupCommands(app, global, &exit_code);
  AddPublishCommand(app, global, &exit_code);
  AddConsumeCommand(app, global, &exit_code);
  AddTailCommand(app, global, &exit_code);
  AddDlqCommands(app, global, &exit_code);
  AddTokenCommands(app, global, &exit_code);
  AddCompletionCommand(app, global, &exit_code);
  app.footer(kFooter);  // after the subcommands, which would inherit it
  NoteJsonFlag(&global.json);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() != 0) {
      // CLI11 would say "A subcommand is required" or "not expected" for `topic frob`.
      if (auto message = UnknownCommandMessage(app, std::vector<std::string>(argv + 1, argv + argc)))
        return ReportError(*message, kUsage);
    }
    int rc = app.exit(e);
    return rc == 0 ? 0 : kUsage;
  }
  return exit_code;
}
