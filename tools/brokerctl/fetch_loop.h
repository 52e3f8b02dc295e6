#pragma once
// Reading a topic without a consumer group, with Client::Fetch: what
// `consume` without --group (history) and `tail` (live) share. Nothing on the
// broker moves: no group is created, joined or advanced.

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <system_error>

#include "herald/client.h"

namespace herald::ctl {

struct FetchLoopOptions {
  StartPosition from;
  uint64_t count = 0;    // stop after this many messages; 0 = no limit
  // false: stop once caught up with the end of the log (history).
  // true: keep polling for new messages every `poll` (live).
  bool follow = false;
  std::chrono::milliseconds idle{0};  // follow: stop after this long without a message; 0 = never
  std::chrono::milliseconds poll{100};
  const std::atomic<bool>* stop = nullptr;  // set (e.g. by a signal handler) to stop between fetches
};

// Calls `on_message` for each message, in offset order, on this thread.
// Returns the error of a Fetch that failed, or success when a stop condition held.
std::error_code FetchLoop(Client& client, const std::string& topic, const FetchLoopOptions& options,
                          const std::function<void(const ReceivedMessage&)>& on_message);

}  // namespace herald::ctl
