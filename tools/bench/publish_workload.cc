// publish: --count messages of --size bytes from --producers clients in
// parallel threads, each with at most --window unacked. The clock runs from
// the first publish to the last ack. With --window 1 it also records each
// publish's round trip.

#include <fmt/format.h>

#include "workload_support.h"

namespace herald::bench {

RunResult RunPublish(const BenchOptions& o) {
  RunResult r;
  r.workload = "publish" + ProducersSuffix(o);
  auto producers = ConnectProducers(o, &r.error);
  if (producers.empty()) return r.complete = false, r;
  BenchTopic topic(*producers[0], "publish", o.keep);
  if (!topic.Create(&r.error)) return r.complete = false, r;

  const auto give_up = Clock::now() + FromSeconds(o.max_seconds);
  const auto start = Clock::now();
  // One at a time, each publish's round trip is the latency a caller waits for.
  if (o.window == 1) r.latency_kind = kPublishRoundTrip;
  const uint64_t failed =
      PublishFromAll(producers, topic.name(), o, give_up, o.window == 1 ? &r.latencies_us : nullptr);
  r.seconds = Seconds(Clock::now() - start);
  r.messages = o.count - failed;
  r.complete = failed == 0;
  if (failed) r.error = fmt::format("{} of {} publishes not acked", failed, o.count);
  return r;
}

}  // namespace herald::bench
