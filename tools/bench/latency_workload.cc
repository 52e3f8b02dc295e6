// latency: --producers clients together publish at a fixed --rate for
// --duration seconds (each sends every n-th message of one schedule) while one
// consumer group receives and acks.
//
// No coordinated omission: message i's intended send time is t0 + i / rate
// (the schedule), its index travels in the first 8 payload bytes, and the
// latency is receive time - intended send time. A stall on the sending side
// (a late wakeup, a slow Publish) therefore counts against latency instead of
// silently delaying the later sends.

#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "payload_source.h"
#include "send_schedule.h"
#include "workload_support.h"

namespace herald::bench {

namespace {

// Shared with the consumer's I/O thread (see workload_support.h).
struct Samples {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<double> latencies_us;
  uint64_t expected = 0;
};

}  // namespace

RunResult RunLatency(const BenchOptions& o) {
  RunResult r;
  r.workload = fmt::format("latency@{:.0f}", o.rate) + ProducersSuffix(o);
  r.latency_kind = kEndToEndLatency;
  r.seconds = o.duration_s;
  r.complete = false;
  if (o.rate <= 0 || o.duration_s <= 0) return r.error = "--rate and --duration must be positive", r;
  auto producers = ConnectProducers(o, &r.error);
  if (producers.empty()) return r;
  auto consumer = ConnectClient(o, &r.error);
  if (!consumer) return r;
  BenchTopic topic(*producers[0], "latency", o.keep);
  if (!topic.Create(&r.error)) return r;

  const auto total = static_cast<uint64_t>(o.rate * o.duration_s);
  auto samples = std::make_shared<Samples>();
  samples->expected = total;
  samples->latencies_us.reserve(total);
  const auto t0 = SendSchedule::StartTime();
  auto schedule = std::make_shared<SendSchedule>(t0, o.rate);  // the consumer's view: when each was due

  SubscriptionId sid = 0;
  auto ec = consumer->Subscribe(
      {.topic = topic.name(), .group = "latency"},
      [samples, schedule](const Delivery& d) {
        const auto now = Clock::now();
        d.ack();
        const std::string_view payload = d.message().payload;
        if (payload.size() < sizeof(uint64_t) || d.message().delivery_count > 1) return;
        uint64_t i = 0;
        std::memcpy(&i, payload.data(), sizeof i);
        std::lock_guard lock(samples->mu);
        samples->latencies_us.push_back(std::chrono::duration<double, std::micro>(now - schedule->Due(i)).count());
        if (samples->latencies_us.size() == samples->expected) samples->cv.notify_all();
      },
      &sid);
  if (ec) return r.error = "subscribe: " + ec.message(), r;

  auto failed = std::make_shared<std::atomic<uint64_t>>(0);
  const auto give_up = Clock::now() + FromSeconds(o.max_seconds);
  std::atomic<uint64_t> sent{0};
  std::vector<SendSchedule> schedules(producers.size(), SendSchedule(t0, o.rate));
  std::vector<std::thread> threads;
  for (std::size_t p = 0; p < producers.size(); ++p) {
    threads.emplace_back([&, p] {
      PayloadSource payloads(std::max(o.size, sizeof(uint64_t)), p + 1);
      for (uint64_t i = p; i < total && Clock::now() < give_up; i += producers.size()) {
        std::string payload = payloads.Next();
        std::memcpy(payload.data(), &i, sizeof i);
        schedules[p].WaitTurn(i);
        producers[p]->Publish(topic.name(), Message{{}, {}, std::move(payload)}, [failed](const PublishResult& pr) {
          if (pr.error) ++*failed;
        });
        ++sent;
      }
    });
  }
  for (auto& t : threads) t.join();
  // The last sends are due at t0 + duration; allow the same again (at least 10 s) to drain.
  const auto drain_until = std::min(give_up, schedule->Due(total) + FromSeconds(std::max(10.0, o.duration_s)));
  {
    std::unique_lock lock(samples->mu);
    r.complete = samples->cv.wait_until(lock, drain_until, [&] { return samples->latencies_us.size() >= total; });
    r.messages = samples->latencies_us.size();
    r.latencies_us = samples->latencies_us;
  }
  consumer->Unsubscribe(sid);
  for (auto& sch : schedules) {
    std::vector<double> late = sch.TakeLateness();
    r.send_late_us.insert(r.send_late_us.end(), late.begin(), late.end());
  }
  if (!r.complete) {
    r.error = fmt::format("{} of {} messages received ({} sent, {} publishes failed)", r.messages, total, sent.load(),
                          failed->load());
  }
  return r;
}

}  // namespace herald::bench
