// backlog: --count messages are published first from --producers clients
// (not timed); then a fresh group drains the whole topic from earliest,
// acking each message.

#include <fmt/format.h>

#include "workload_support.h"

namespace herald::bench {

RunResult RunBacklog(const BenchOptions& o) {
  RunResult r;
  r.workload = "backlog" + ProducersSuffix(o);
  r.complete = false;
  auto producers = ConnectProducers(o, &r.error);
  if (producers.empty()) return r;
  Client* client = producers[0].get();
  BenchTopic topic(*client, "backlog", o.keep);
  if (!topic.Create(&r.error)) return r;
  const auto deadline = Clock::now() + FromSeconds(o.max_seconds);
  if (uint64_t failed = PublishFromAll(producers, topic.name(), o, deadline)) {
    return r.error = fmt::format("filling the backlog: {} of {} publishes not acked", failed, o.count), r;
  }
  auto counter = DeliveryCounter::Make();
  const auto start = Clock::now();
  SubscriptionId sid = 0;
  if (auto ec = client->Subscribe({.topic = topic.name(), .group = "drain", .start = StartFrom::earliest},
                                  counter->Handler(), &sid)) {
    return r.error = "subscribe: " + ec.message(), r;
  }
  r.complete = counter->WaitFor(o.count, deadline);
  r.seconds = Seconds(Clock::now() - start);
  r.messages = counter->received();
  client->Unsubscribe(sid);
  if (!r.complete) r.error = fmt::format("{} of {} messages drained in --max-seconds", r.messages, o.count);
  return r;
}

}  // namespace herald::bench
