// brokerctl publish TOPIC [--key K] [--header NAME=VALUE]... [--verbose] [MESSAGE]
// Without MESSAGE, publishes one message per line of stdin. Waits for every
// ack; prints nothing on success (a summary on stderr with --verbose) and
// exits non-zero if any message was not stored.

#include <condition_variable>
#include <iostream>
#include <mutex>

#include "brokerctl.h"

namespace herald::ctl {

namespace {

// Unacked publishes at most, so a long stdin streams instead of piling up.
constexpr uint64_t kMaxInFlight = 1000;

// Shared with the SDK's I/O thread, which runs the publish callbacks.
struct Acks {
  std::mutex mu;
  std::condition_variable cv;
  uint64_t in_flight = 0, stored = 0, failed = 0;
  std::error_code first_error;
};

}  // namespace

void AddPublishCommand(CLI::App& app, const GlobalOptions& global, int* exit_code) {
  struct Args {
    std::string topic, key, message;
    std::vector<std::string> headers;
    bool verbose = false;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("publish", "publish a message, or one per stdin line");
  cmd->add_option("TOPIC", args->topic, "topic to publish to")->required();
  auto* msg = cmd->add_option("MESSAGE", args->message, "payload; omit to read lines from stdin");
  auto* key = cmd->add_option("--key", args->key, "message key (per-key order)");
  cmd->add_option("--header", args->headers, "NAME=VALUE, repeatable")
      ->allow_extra_args(false);  // one NAME=VALUE per --header, so MESSAGE may follow
  cmd->add_flag("-v,--verbose", args->verbose, "print a summary on stderr");
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

    auto acks = std::make_shared<Acks>();
    auto publish = [&](std::string payload) {
      {
        std::unique_lock lock(acks->mu);
        acks->cv.wait(lock, [&] { return acks->in_flight < kMaxInFlight; });
        ++acks->in_flight;
      }
      Message m = base;
      m.payload = std::move(payload);
      // Every publish completes: with an ack, an error, or errc::timeout after
      // the SDK's request timeout, so the waits here end.
      client->Publish(args->topic, std::move(m), [acks](const PublishResult& r) {
        std::lock_guard lock(acks->mu);
        --acks->in_flight;
        if (!r.error) {
          ++acks->stored;
        } else if (!acks->failed++) {
          acks->first_error = r.error;
        }
        acks->cv.notify_all();
      });
    };
    if (*msg) {
      publish(args->message);
    } else {
      for (std::string line; std::getline(std::cin, line);) publish(std::move(line));
    }
    std::unique_lock lock(acks->mu);
    acks->cv.wait(lock, [&] { return acks->in_flight == 0; });
    uint64_t total = acks->stored + acks->failed;
    if (args->verbose) {
      std::cerr << "brokerctl: published " << acks->stored << " of " << total << " messages to "
                << args->topic << "\n";
    }
    if (acks->failed) {
      *exit_code = FailOnTopic(args->topic,
                               std::to_string(acks->failed) + " of " + std::to_string(total) +
                                   " messages not published to " + args->topic,
                               acks->first_error);
    }
  });
}

}  // namespace herald::ctl
