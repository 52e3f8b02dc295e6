// brokerctl publish TOPIC [--key K] [--header NAME=VALUE]... [--verbose] [MESSAGE | --file PATH]
// Without MESSAGE or --file, publishes one message per line of stdin; --file
// publishes the whole file (any bytes) as one message. Waits for every ack;
// prints nothing on success (a summary on stderr with --verbose; with --json
// the counts and offsets on stdout) and exits non-zero if any message was
// not stored.

#include <algorithm>
#include <condition_variable>
#include <fstream>
#include <iostream>
#include <limits>
#include <mutex>
#include <optional>
#include <sstream>

#include "brokerctl.h"
#include "output.h"

namespace herald::ctl {

namespace {

// Unacked publishes at most, so a long stdin streams instead of piling up.
constexpr uint64_t kMaxInFlight = 1000;

// Shared with the SDK's I/O thread, which runs the publish callbacks.
struct Acks {
  std::mutex mu;
  std::condition_variable cv;
  uint64_t in_flight = 0, stored = 0, failed = 0;
  uint64_t first_offset = std::numeric_limits<uint64_t>::max(), last_offset = 0;
  std::error_code first_error;
};

// The whole file, bytes as they are; nullopt if it cannot be read.
std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return std::move(content).str();
}

}  // namespace

void AddPublishCommand(CLI::App& app, const GlobalOptions& global, int* exit_code) {
  struct Args {
    std::string topic, key, message, file;
    std::vector<std::string> headers;
    bool verbose = false;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("publish", "publish a message, or one per stdin line");
  cmd->add_option("TOPIC", args->topic, "topic to publish to")->required();
  auto* msg = cmd->add_option("MESSAGE", args->message, "payload; omit to read lines from stdin");
  auto* file = cmd->add_option("--file", args->file, "publish this file's content as one message")
                   ->excludes(msg);
  auto* key = cmd->add_option("--key", args->key, "message key (per-key order)");
  cmd->add_option("--header", args->headers, "NAME=VALUE, repeatable")
      ->allow_extra_args(false);  // one NAME=VALUE per --header, so MESSAGE may follow
  cmd->add_flag("-v,--verbose", args->verbose, "print a summary on stderr");
  cmd->callback([&global, exit_code, args, msg, key, file] {
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
    std::optional<std::string> content;
    if (*file && !(content = ReadFile(args->file))) {
      *exit_code = Invalid("cannot read --file '" + args->file + "'");
      return;
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
          acks->first_offset = std::min(acks->first_offset, r.offset);
          acks->last_offset = std::max(acks->last_offset, r.offset);
        } else if (!acks->failed++) {
          acks->first_error = r.error;
        }
        acks->cv.notify_all();
      });
    };
    if (content) {
      publish(std::move(*content));
    } else if (*msg) {
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
    if (global.json) {
      Json doc = {{"topic", args->topic}, {"published", acks->stored}, {"failed", acks->failed}};
      if (acks->stored > 0) {
        doc["first_offset"] = acks->first_offset;
        doc["last_offset"] = acks->last_offset;
      }
      PrintJson(doc);
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
