// fanout: --groups consumer groups (one member each, own client) subscribe to
// a fresh topic, then --count messages are published. Reports each group's
// delivered msgs/s, total deliveries/s, and the time until the broker shows
// every group fully acked.

#include <thread>

#include <fmt/format.h>

#include "workload_support.h"

namespace herald::bench {

namespace {

// Polls the broker until every group's ack floor reached `next_offset`.
bool WaitAllAcked(Client& client, const std::string& topic, std::size_t groups, uint64_t next_offset,
                  Clock::time_point deadline) {
  while (Clock::now() < deadline) {
    TopicInfo info;
    if (!client.DescribeTopic(topic, &info)) {
      std::size_t done = 0;
      for (const auto& g : info.groups) done += g.ack_floor >= next_offset ? 1 : 0;
      if (done >= groups) return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return false;
}

}  // namespace

RunResult RunFanout(const BenchOptions& o) {
  RunResult r;
  r.workload = fmt::format("fanout x{}", o.groups) + ProducersSuffix(o);
  r.complete = false;
  auto producers = ConnectProducers(o, &r.error);
  if (producers.empty()) return r;
  Client& admin = *producers[0];
  BenchTopic topic(admin, "fanout", o.keep);
  if (!topic.Create(&r.error)) return r;

  std::vector<std::shared_ptr<DeliveryCounter>> counters;
  std::vector<std::unique_ptr<Client>> consumers;
  for (uint32_t g = 0; g < o.groups; ++g) {
    auto c = ConnectClient(o, &r.error);
    if (!c) return r;
    counters.push_back(DeliveryCounter::Make());
    if (auto ec = c->Subscribe({.topic = topic.name(), .group = fmt::format("g{}", g)}, counters.back()->Handler())) {
      return r.error = "subscribe: " + ec.message(), r;
    }
    consumers.push_back(std::move(c));
  }

  const auto deadline = Clock::now() + FromSeconds(o.max_seconds);
  const auto start = Clock::now();
  const uint64_t failed = PublishFromAll(producers, topic.name(), o, deadline);
  bool all = failed == 0;
  for (auto& c : counters) all = c->WaitFor(o.count, deadline) && all;
  r.seconds = Seconds(Clock::now() - start);
  // Every offset was published, so the topic's next offset is o.count.
  all = all && WaitAllAcked(admin, topic.name(), counters.size(), o.count, deadline);
  r.acked_seconds = Seconds(Clock::now() - start);
  for (std::size_t g = 0; g < counters.size(); ++g) {
    GroupResult gr;
    gr.name = fmt::format("g{}", g);
    gr.delivered = counters[g]->received();
    gr.seconds = gr.delivered ? Seconds(counters[g]->last_delivery() - start) : 0;
    r.messages += gr.delivered;
    r.groups.push_back(std::move(gr));
  }
  r.complete = all;
  if (failed) r.error = fmt::format("{} of {} publishes not acked", failed, o.count);
  else if (!all) r.error = "not every group received and acked everything in --max-seconds";
  consumers.clear();  // leave the groups before the topic is deleted
  return r;
}

}  // namespace herald::bench
