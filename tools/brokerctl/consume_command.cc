// brokerctl consume TOPIC [--group G] [--from POSITION] [--count N] [--timeout DURATION]
//                   [--format raw|json|hex] [--no-ack] [--max-deliveries N] [--backoff LIST]
// With --group: consumes as a member of the group, printing each message and
// acking it after printing (--no-ack: a peek; nothing is acked, and the
// messages go back to the group when brokerctl leaves it). Exits after N
// messages, or when --timeout passes without a message.
// Without --group: reads the topic's history with Fetch from --from up to its
// current end (or N messages) and exits; no group is created or moved.

#include <condition_variable>
#include <iostream>
#include <mutex>

#include "brokerctl.h"
#include "fetch_loop.h"
#include "message_format.h"
#include "output.h"
#include "parse.h"

namespace herald::ctl {

namespace {

struct Args {
  std::string topic, group, from = "earliest", format, max_deliveries, backoff;
  uint64_t count = 0;
  std::chrono::milliseconds timeout = std::chrono::seconds(5);
  bool no_ack = false;
};

// The group's options from the flags; an error message if one is malformed.
std::string BuildSubscribeOptions(const Args& args, StartPosition from, SubscribeOptions* so) {
  so->topic = args.topic;
  so->group = args.group;
  so->start = from;
  if (!args.max_deliveries.empty()) {
    auto n = ParseCount(args.max_deliveries);
    if (!n || *n == 0 || *n > UINT32_MAX) {
      return "--max-deliveries wants a number from 1, got '" + args.max_deliveries + "'";
    }
    so->max_deliveries = static_cast<uint32_t>(*n);
  }
  if (!args.backoff.empty()) {
    auto list = ParseDurationList(args.backoff);
    if (!list) return "--backoff wants durations like 1s,5s,30s, got '" + args.backoff + "'";
    so->backoff = *list;
  }
  return {};
}

void ConsumeWithGroup(Client& client, const Args& args, SubscribeOptions so, Format format,
                      int* exit_code) {
  // Never hold more than we will print: the rest stays with the group.
  if (args.count > 0) so.window = static_cast<uint32_t>(std::min<uint64_t>(args.count, 1000));

  // Shared with the SDK's I/O thread, which runs the handler.
  std::mutex mu;
  std::condition_variable cv;
  uint64_t printed = 0;
  auto last = std::chrono::steady_clock::now();
  bool done = false;
  SubscriptionId sid = 0;
  std::error_code ec = client.Subscribe(so, [&](const Delivery& d) {
    std::lock_guard lock(mu);
    if (done) return;  // beyond --count: left unacked, the group redelivers it
    PrintMessage(std::cout, d.message(), format);
    if (!args.no_ack) d.ack();
    last = std::chrono::steady_clock::now();
    if (args.count > 0 && ++printed >= args.count) done = true;
    cv.notify_all();
  }, &sid);
  if (ec) {
    *exit_code = FailOnTopic(args.topic, "consume " + args.topic, ec);
    return;
  }
  auto idle = args.timeout;
  std::unique_lock lock(mu);
  while (!done) {
    if (cv.wait_until(lock, last + idle) == std::cv_status::timeout &&
        std::chrono::steady_clock::now() >= last + idle) {
      break;
    }
  }
  done = true;  // a delivery racing the unsubscribe is neither printed nor acked
  lock.unlock();
  // Acks queued above go out before the unsubscribe; whatever is unacked
  // (all of it with --no-ack) goes back to the group.
  client.Unsubscribe(sid);
}

void ConsumeHistory(Client& client, const Args& args, StartPosition from, Format format,
                    int* exit_code) {
  FetchLoopOptions fo;
  fo.from = from;
  fo.count = args.count;
  std::error_code ec = FetchLoop(client, args.topic, fo, [&](const ReceivedMessage& m) {
    PrintMessage(std::cout, m, format);
  });
  // Named so: on an engine without Fetch, consuming with --group still works.
  if (ec) *exit_code = FailOnTopic(args.topic, "consume " + args.topic + " without --group", ec);
}

}  // namespace

void AddConsumeCommand(CLI::App& app, const GlobalOptions& global, int* exit_code) {
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand(
      "consume", "print a topic's messages: as a consumer group member (--group), or read its "
                 "history without a group");
  cmd->add_option("TOPIC", args->topic, "topic to consume")->required();
  auto* group = cmd->add_option(
      "--group", args->group, "consumer group; without it the history is read and no group moves");
  cmd->add_option("--from", args->from,
                  std::string("with --group: where a NEW group starts; without: where reading "
                              "starts. ") + kPositionHelp)
      ->capture_default_str();
  cmd->add_option("--count", args->count, "exit after this many messages (0: no limit)");
  wire::AddDurationFlag(*cmd, "--timeout", &args->timeout, kSecondsFlag,
                        "with --group: exit after this long without a message (a bare number is seconds)");
  AddFormatOption(cmd, &args->format);
  cmd->add_flag("--no-ack", args->no_ack,
                "peek: ack nothing; the messages return to the group when brokerctl leaves")
      ->needs(group);
  cmd->add_option("--max-deliveries", args->max_deliveries,
                  "group policy: deliveries before a message goes to TOPIC.dlq")
      ->needs(group);
  cmd->add_option("--backoff", args->backoff,
                  "group policy: delays before redelivery n, e.g. 1s,5s,30s (the last repeats)")
      ->needs(group);
  cmd->callback([&global, exit_code, args, group] {
    auto from = ParsePosition(args->from);
    if (!from) {
      *exit_code = Invalid(std::string("--from wants ") + kPositionHelp + ", got '" + args->from + "'");
      return;
    }
    SubscribeOptions so;
    if (*group) {
      if (std::string bad = BuildSubscribeOptions(*args, *from, &so); !bad.empty()) {
        *exit_code = Invalid(bad);
        return;
      }
    }
    Format format = ChooseFormat(args->format, global.json);
    auto client = Connect(global, exit_code);
    if (!client) return;
    if (*group) {
      ConsumeWithGroup(*client, *args, so, format, exit_code);
    } else {
      ConsumeHistory(*client, *args, *from, format, exit_code);
    }
  });
}

}  // namespace herald::ctl
