// brokerctl dlq replay|purge: the dead-letter topic TOPIC.dlq of a topic.
//
// The broker moves a message that a group failed max_deliveries times to
// TOPIC.dlq, with headers x-herald-dlq-{topic,offset,group,delivery-count,reason}.
// `replay` publishes a group's letters again to their original topic; its own
// consumer group on TOPIC.dlq (dlq-replay.GROUP) remembers how far it got, so a
// second run does not replay the same letters. A letter is acked only after
// its republish was acked: a crash in between replays it again (at least once).

#include <condition_variable>
#include <iostream>
#include <mutex>
#include <thread>

#include "brokerctl.h"
#include "output.h"
#include "parse.h"
#include "schemas/names.h"

namespace herald::ctl {

namespace {

constexpr const char* kDlqHeaderPrefix = "x-herald-dlq-";

std::string DlqTopic(const std::string& topic) { return wire::DeadLetterTopicName(topic); }

// The message as its producer sent it: key, payload and headers without the
// broker's x-herald-dlq-* ones.
Message Original(const ReceivedMessage& letter) {
  Message m;
  if (letter.key) m.key = std::string(*letter.key);
  m.payload = std::string(letter.payload);
  for (const auto& h : letter.headers) {
    if (!h.name.starts_with(kDlqHeaderPrefix)) m.headers.push_back({std::string(h.name), std::string(h.value)});
  }
  return m;
}

// Shared between the SDK's I/O thread (deliveries, publish acks) and main.
struct Replay {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  uint64_t started = 0, replayed = 0, skipped = 0, failed = 0, in_flight = 0;
  std::error_code first_error;
  std::chrono::steady_clock::time_point last_activity = std::chrono::steady_clock::now();
};

struct ReplayArgs {
  std::string topic, group;
  uint64_t count = 0;
  std::chrono::milliseconds timeout = std::chrono::seconds(5);
};

void RunReplay(Client& client, const GlobalOptions& global, const ReplayArgs& args, int* exit_code) {
  const std::string dlq = DlqTopic(args.topic);
  TopicInfo info;
  if (std::error_code ec = client.DescribeTopic(dlq, &info)) {
    *exit_code = FailOnTopic(dlq, "dlq replay", ec);
    return;
  }
  const uint64_t end = info.next_offset;  // letters dead before this run
  SubscribeOptions so;
  so.topic = dlq;
  so.group = "dlq-replay." + args.group;
  so.start = StartFrom::earliest;  // used once, when the tracking group is new
  so.window = 100;
  auto state = std::make_shared<Replay>();
  SubscriptionId sid = 0;
  std::error_code ec = client.Subscribe(so, [&client, &args, state](const Delivery& d) {
    std::lock_guard lock(state->mu);
    if (state->done) return;  // unacked: back to the tracking group on unsubscribe
    state->last_activity = std::chrono::steady_clock::now();
    const ReceivedMessage& letter = d.message();
    const auto group = letter.header("x-herald-dlq-group");
    if (!group || *group != args.group) {
      ++state->skipped;  // another group's letter: not ours to replay
      d.ack();
      return;
    }
    if (args.count > 0 && state->started >= args.count) return;
    ++state->started;
    ++state->in_flight;
    const auto original = letter.header("x-herald-dlq-topic");
    client.Publish(original ? std::string(*original) : args.topic, Original(letter),
                   [state, d](const PublishResult& r) {
                     std::lock_guard guard(state->mu);
                     --state->in_flight;
                     state->last_activity = std::chrono::steady_clock::now();
                     if (!r.error) {
                       ++state->replayed;
                       d.ack();
                     } else if (!state->failed++) {
                       state->first_error = r.error;
                     }
                     state->cv.notify_all();
                   });
  }, &sid);
  if (ec) {
    *exit_code = FailOnTopic(dlq, "dlq replay", ec);
    return;
  }
  // Done when the tracking group's position reaches the letters that were
  // there at the start, or it has nothing left (no lag: on NATS JetStream a
  // purged or trimmed stream's sequences need not reach that end), or --count are
  // replayed, or nothing happens for --timeout (e.g. a republish keeps
  // failing).
  auto idle = args.timeout;
  for (;;) {
    {
      std::unique_lock lock(state->mu);
      state->cv.wait_for(lock, std::chrono::milliseconds(100));
      if (args.count > 0 && state->replayed + state->failed >= args.count) break;
      if (state->in_flight == 0 && std::chrono::steady_clock::now() - state->last_activity >= idle) break;
      if (state->in_flight > 0) continue;
    }
    GroupInfo g;
    if (!client.DescribeGroup(dlq, so.group, &g) && (g.ack_floor >= end || g.lag == 0)) break;
  }
  {
    std::unique_lock lock(state->mu);
    state->done = true;
    // Every publish completes (ack, error or the SDK's request timeout).
    state->cv.wait(lock, [&] { return state->in_flight == 0; });
  }
  client.Unsubscribe(sid);  // sends the acks queued above first
  std::lock_guard lock(state->mu);
  if (global.json) {
    PrintJson({{"topic", args.topic}, {"group", args.group}, {"replayed", state->replayed},
               {"skipped", state->skipped}, {"failed", state->failed}});
  } else {
    std::cout << "replayed " << state->replayed << " dead letters of group " << args.group << " to "
              << args.topic << " (skipped " << state->skipped << " of other groups)\n";
  }
  if (state->failed > 0) {
    *exit_code = Fail(std::to_string(state->failed) + " dead letters not replayed (they stay in " +
                          dlq + ")",
                      state->first_error);
  }
}

void AddReplay(CLI::App* parent, const GlobalOptions& global, int* exit_code) {
  auto args = std::make_shared<ReplayArgs>();
  auto* cmd = parent->add_subcommand(
      "replay", "publish GROUP's dead letters of TOPIC.dlq again to their topic, without the "
                "x-herald-dlq-* headers; progress is kept by the group dlq-replay.GROUP on "
                "TOPIC.dlq, so letters are replayed once");
  cmd->add_option("TOPIC", args->topic, "the original topic (its dead letters are in TOPIC.dlq)")
      ->required();
  cmd->add_option("GROUP", args->group, "the consumer group whose dead letters to replay")->required();
  cmd->add_option("--count", args->count, "replay at most this many (0: all)");
  wire::AddDurationFlag(*cmd, "--timeout", &args->timeout, kSecondsFlag,
                        "give up after this long without progress (a bare number is seconds)");
  cmd->callback([&global, exit_code, args] {
    auto client = Connect(global, exit_code);
    if (!client) return;
    RunReplay(*client, global, *args, exit_code);
  });
}

void AddPurge(CLI::App* parent, const GlobalOptions& global, int* exit_code) {
  struct Args {
    std::string topic;
    bool yes = false;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = parent->add_subcommand("purge", "remove every dead letter of TOPIC.dlq (asks first unless --yes)");
  cmd->add_option("TOPIC", args->topic, "the original topic")->required();
  cmd->add_flag("-y,--yes", args->yes, "do not ask; required when stdin is not a terminal");
  cmd->callback([&global, exit_code, args] {
    RunPurge(global, DlqTopic(args->topic), args->yes, "dead letters", "dlq purge", exit_code);
  });
}

}  // namespace

void AddDlqCommands(CLI::App& app, const GlobalOptions& global, int* exit_code) {
  auto* dlq = app.add_subcommand("dlq", "replay or purge a topic's dead letters (TOPIC.dlq)");
  dlq->require_subcommand(1);
  AddReplay(dlq, global, exit_code);
  AddPurge(dlq, global, exit_code);
}

}  // namespace herald::ctl
