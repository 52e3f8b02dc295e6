// brokerctl tail TOPIC [--from POSITION] [--format raw|json|hex] [--count N] [--timeout DURATION]
// Follows a topic live with Fetch polling, like `tail -f`: from the end by
// default, polling every 100 ms once caught up. Joins and creates no group,
// so it changes nothing on the broker. Stops on SIGINT/SIGTERM, or after
// --count messages, or --timeout without a message.

#include <atomic>
#include <csignal>
#include <iostream>

#include "brokerctl.h"
#include "fetch_loop.h"
#include "message_format.h"
#include "output.h"
#include "parse.h"

namespace herald::ctl {

namespace {

// Set by the signal handler; FetchLoop checks it between fetches (at most one
// request plus one 100 ms poll later, brokerctl exits normally).
std::atomic<bool> g_stop{false};
static_assert(std::atomic<bool>::is_always_lock_free, "used from a signal handler");

extern "C" void OnStopSignal(int) { g_stop.store(true); }

void CatchStopSignals() {
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

}  // namespace

void AddTailCommand(CLI::App& app, const GlobalOptions& global, int* exit_code) {
  struct Args {
    std::string topic, from = "latest", format;
    uint64_t count = 0;
    std::chrono::milliseconds timeout{0};
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand(
      "tail", "follow a topic live without joining a group (stop with Ctrl-C)");
  cmd->add_option("TOPIC", args->topic, "topic to follow")->required();
  cmd->add_option("--from", args->from, std::string("where to start: ") + kPositionHelp)
      ->capture_default_str();
  AddFormatOption(cmd, &args->format);
  cmd->add_option("--count", args->count, "exit after this many messages (0: no limit)");
  wire::AddDurationFlag(*cmd, "--timeout", &args->timeout, kSecondsFlag,
                        "exit after this long without a message (a bare number is seconds; 0: never)");
  cmd->callback([&global, exit_code, args] {
    auto from = ParsePosition(args->from);
    if (!from) {
      *exit_code = Invalid(std::string("--from wants ") + kPositionHelp + ", got '" + args->from + "'");
      return;
    }
    Format format = ChooseFormat(args->format, global.json);
    auto client = Connect(global, exit_code);
    if (!client) return;
    CatchStopSignals();
    FetchLoopOptions fo;
    fo.from = *from;
    fo.count = args->count;
    fo.follow = true;
    fo.idle = args->timeout;
    fo.stop = &g_stop;
    std::error_code ec = FetchLoop(*client, args->topic, fo, [&](const ReceivedMessage& m) {
      PrintMessage(std::cout, m, format);
    });
    if (ec) *exit_code = FailOnTopic(args->topic, "tail " + args->topic, ec);
  });
}

}  // namespace herald::ctl
