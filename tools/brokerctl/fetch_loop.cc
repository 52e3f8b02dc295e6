#include "fetch_loop.h"

#include <algorithm>
#include <thread>

namespace herald::ctl {

namespace {
constexpr uint64_t kBatch = 500;  // messages per Fetch
}

std::error_code FetchLoop(Client& client, const std::string& topic, const FetchLoopOptions& options,
                          const std::function<void(const ReceivedMessage&)>& on_message) {
  using Clock = std::chrono::steady_clock;
  StartPosition at = options.from;
  uint64_t seen = 0;
  auto last_message = Clock::now();
  auto stopped = [&] { return options.stop != nullptr && options.stop->load(); };
  while (!stopped()) {
    uint64_t want = kBatch;
    if (options.count > 0) want = std::min(want, options.count - seen);
    FetchResult r;
    if (std::error_code ec = client.Fetch(topic, at, static_cast<uint32_t>(want), &r)) return ec;
    for (const auto& m : r.messages) {
      on_message(m);
      if (options.count > 0 && ++seen >= options.count) return {};
    }
    bool moved = at.from != StartFrom::offset || r.next_offset != at.offset;
    // Continue exactly where this fetch ended, whatever `from` was.
    at = StartPosition::AtOffset(r.next_offset);
    // History: read up to the end of the log as this fetch saw it.
    if (!options.follow && r.next_offset >= r.end_offset) return {};
    if (!r.messages.empty()) {
      last_message = Clock::now();
      continue;
    }
    if (!options.follow) {
      if (!moved) return {};  // a log that gives nothing more: do not spin
      continue;
    }
    if (options.idle.count() > 0 && Clock::now() - last_message >= options.idle) return {};
    std::this_thread::sleep_for(options.poll);
  }
  return {};
}

}  // namespace herald::ctl
