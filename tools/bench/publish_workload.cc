// publish: --count messages of --size bytes from --producers clients in
// parallel threads, each with at most --window unacked. The clock runs from
// the first publish to the last ack.

#include <atomic>
#include <thread>

#include <fmt/format.h>

#include "workload_support.h"

namespace herald::bench {

RunResult RunPublish(const BenchOptions& o) {
  RunResult r;
  r.workload = o.producers > 1 ? fmt::format("publish x{}", o.producers) : "publish";
  std::vector<std::unique_ptr<Client>> clients;
  for (uint32_t p = 0; p < std::max<uint32_t>(o.producers, 1); ++p) {
    auto c = ConnectClient(o, &r.error);
    if (!c) return r.complete = false, r;
    clients.push_back(std::move(c));
  }
  BenchTopic topic(*clients[0], "publish", o.keep);
  if (!topic.Create(&r.error)) return r.complete = false, r;

  std::atomic<uint64_t> failed{0};
  const auto give_up = Clock::now() + FromSeconds(o.max_seconds);
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  const auto n = static_cast<uint64_t>(clients.size());
  for (uint64_t p = 0; p < n; ++p) {
    uint64_t share = o.count / n + (p < o.count % n ? 1 : 0);
    threads.emplace_back([&, p, share] {
      failed += PublishPipelined(*clients[p], topic.name(), share, o.size, o.window, give_up);
    });
  }
  for (auto& t : threads) t.join();
  r.seconds = Seconds(Clock::now() - start);
  r.messages = o.count - failed;
  r.complete = failed == 0;
  if (failed) r.error = fmt::format("{} of {} publishes not acked", failed.load(), o.count);
  return r;
}

}  // namespace herald::bench
