// brokerctl consume TOPIC --group G [--from earliest|latest] [--count N] [--timeout SECONDS]
// Prints each payload on its own line and acks it after printing. Exits after
// N messages, or when --timeout seconds pass without a message.

#include <condition_variable>
#include <iostream>
#include <mutex>

#include "brokerctl.h"

namespace herald::ctl {

void AddConsumeCommand(CLI::App& app, const GlobalOptions& global, int* exit_code) {
  struct Args {
    std::string topic, group, from = "earliest";
    uint64_t count = 0;
    double timeout_s = 5;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("consume", "print a topic's messages as a consumer group");
  cmd->add_option("TOPIC", args->topic, "topic to consume")->required();
  cmd->add_option("--group", args->group, "consumer group")->required();
  cmd->add_option("--from", args->from, "where a new group starts")
      ->check(CLI::IsMember({"earliest", "latest"}))
      ->capture_default_str();
  cmd->add_option("--count", args->count, "exit after this many messages (0: no limit)");
  cmd->add_option("--timeout", args->timeout_s, "exit after this many idle seconds")
      ->capture_default_str();
  cmd->callback([&global, exit_code, args] {
    auto client = Connect(global, exit_code);
    if (!client) return;
    std::mutex mu;
    std::condition_variable cv;
    uint64_t printed = 0;
    auto last = std::chrono::steady_clock::now();
    bool done = false;

    SubscribeOptions so;
    so.topic = args->topic;
    so.group = args->group;
    so.start = args->from == "latest" ? StartFrom::latest : StartFrom::earliest;
    // Never hold more than we will print: the rest stays with the group.
    if (args->count > 0) so.window = static_cast<uint32_t>(std::min<uint64_t>(args->count, 1000));
    SubscriptionId sid = 0;
    std::error_code ec = client->Subscribe(so, [&](const Delivery& d) {
      std::lock_guard lock(mu);
      if (done) return;  // beyond --count: left unacked, the group redelivers it
      std::cout << d.message().payload << "\n" << std::flush;
      d.ack();
      last = std::chrono::steady_clock::now();
      if (args->count > 0 && ++printed >= args->count) done = true;
      cv.notify_all();
    }, &sid);
    if (ec) {
      *exit_code = FailOnTopic(args->topic, "consume " + args->topic, ec);
      return;
    }
    auto idle = std::chrono::milliseconds(static_cast<int64_t>(args->timeout_s * 1000));
    std::unique_lock lock(mu);
    while (!done) {
      if (cv.wait_until(lock, last + idle) == std::cv_status::timeout &&
          std::chrono::steady_clock::now() >= last + idle) {
        break;
      }
    }
    lock.unlock();
    client->Unsubscribe(sid);  // acks queued above go out before the unsubscribe
  });
}

}  // namespace herald::ctl
