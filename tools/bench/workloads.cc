// The four workloads. Each creates its own topic, runs, and deletes it.

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>

#include "bench.h"
#include "herald/client.h"

namespace herald::bench {

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

std::string NewTopic(const std::string& workload) {
  std::random_device rd;
  return "bench-" + workload + "-" + std::to_string(rd() % 1'000'000);
}

std::unique_ptr<Client> Connect(const BenchOptions& o, std::string* error) {
  ClientOptions co;
  co.broker = o.broker;
  co.client_name = "broker-bench";
  co.max_pending_bytes = 1u << 30;
  auto c = std::make_unique<Client>(co);
  if (auto ec = c->WaitConnected(std::chrono::seconds(5))) {
    *error = "cannot connect to " + o.broker;
    return nullptr;
  }
  return c;
}

// Publishes `count` messages with at most `window` unacked; returns failures.
uint64_t PublishPipelined(Client& client, const std::string& topic, uint64_t count, std::size_t size,
                          uint32_t window, Clock::time_point give_up) {
  std::mutex mu;
  std::condition_variable cv;
  uint64_t in_flight = 0, failed = 0;
  std::string payload(size, 'x');
  for (uint64_t i = 0; i < count; ++i) {
    {
      std::unique_lock lock(mu);
      if (!cv.wait_until(lock, give_up, [&] { return in_flight < window; })) return count - i + failed;
      ++in_flight;
    }
    client.Publish(topic, Message{{}, {}, payload}, [&](const PublishResult& r) {
      std::lock_guard lock(mu);
      --in_flight;
      if (r.error) ++failed;
      cv.notify_all();
    });
  }
  std::unique_lock lock(mu);
  if (!cv.wait_until(lock, give_up, [&] { return in_flight == 0; })) return failed + in_flight;
  return failed;
}

// Counts deliveries of one group and acks each.
struct Counter {
  std::mutex mu;
  std::condition_variable cv;
  uint64_t received = 0;
  bool WaitFor(uint64_t n, Clock::time_point deadline) {
    std::unique_lock lock(mu);
    return cv.wait_until(lock, deadline, [&] { return received >= n; });
  }
};

MessageHandler CountingHandler(Counter& c) {
  return [&c](const Delivery& d) {
    d.ack();
    std::lock_guard lock(c.mu);
    if (++c.received % 1024 == 0) c.cv.notify_all();
    c.cv.notify_all();
  };
}

}  // namespace

RunResult RunPublish(const BenchOptions& o) {
  RunResult r;
  r.workload = o.producers > 1 ? "publish x" + std::to_string(o.producers) : "publish";
  std::string topic = NewTopic("publish");
  std::vector<std::unique_ptr<Client>> clients;
  for (uint32_t p = 0; p < o.producers; ++p) {
    auto c = Connect(o, &r.error);
    if (!c) return r;
    clients.push_back(std::move(c));
  }
  if (auto ec = clients[0]->CreateTopic(topic)) {
    r.error = "create topic: " + ec.message();
    return r;
  }
  std::atomic<uint64_t> failed{0};
  auto give_up = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(o.max_seconds));
  auto start = Clock::now();
  std::vector<std::thread> threads;
  for (uint32_t p = 0; p < o.producers; ++p) {
    uint64_t share = o.count / o.producers + (p < o.count % o.producers ? 1 : 0);
    threads.emplace_back([&, p, share] {
      failed += PublishPipelined(*clients[p], topic, share, o.size, o.window, give_up);
    });
  }
  for (auto& t : threads) t.join();
  r.seconds = Seconds(Clock::now() - start);
  r.messages = o.count - failed;
  r.complete = failed == 0;
  if (failed) r.error = std::to_string(failed.load()) + " publishes failed";
  if (!o.keep) clients[0]->DeleteTopic(topic);
  return r;
}

RunResult RunLatency(const BenchOptions& o) {
  RunResult r;
  r.workload = "latency@" + std::to_string(static_cast<uint64_t>(o.rate));
  std::string topic = NewTopic("latency");
  auto producer = Connect(o, &r.error);
  auto consumer = producer ? Connect(o, &r.error) : nullptr;
  if (!consumer) return r;
  if (auto ec = producer->CreateTopic(topic)) {
    r.error = "create topic: " + ec.message();
    return r;
  }
  const uint64_t total = static_cast<uint64_t>(o.rate * o.duration_s);
  std::mutex mu;
  std::condition_variable cv;
  std::vector<double> latencies;
  latencies.reserve(total);
  const auto t0 = Clock::now() + std::chrono::milliseconds(200);
  // The payload carries the message's index; its intended send time follows
  // from the schedule, so a stall in sending counts against latency (no
  // coordinated omission).
  auto intended = [&](uint64_t i) {
    return t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(static_cast<double>(i) / o.rate));
  };
  auto ec = consumer->Subscribe({.topic = topic, .group = "latency"}, [&](const Delivery& d) {
    auto now = Clock::now();
    d.ack();
    uint64_t i = 0;
    std::memcpy(&i, d.message().payload.data(), sizeof i);
    std::lock_guard lock(mu);
    latencies.push_back(std::chrono::duration<double, std::micro>(now - intended(i)).count());
    if (latencies.size() >= total) cv.notify_all();
  });
  if (ec) {
    r.error = "subscribe: " + ec.message();
    return r;
  }
  std::string payload(std::max<std::size_t>(o.size, sizeof(uint64_t)), 'x');
  for (uint64_t i = 0; i < total; ++i) {
    std::this_thread::sleep_until(intended(i));
    std::memcpy(payload.data(), &i, sizeof i);
    producer->Publish(topic, Message{{}, {}, payload}, [](const PublishResult&) {});
  }
  std::unique_lock lock(mu);
  r.complete = cv.wait_for(lock, std::chrono::seconds(30), [&] { return latencies.size() >= total; });
  r.messages = latencies.size();
  r.seconds = o.duration_s;
  r.latencies_us = latencies;
  lock.unlock();
  if (!o.keep) producer->DeleteTopic(topic);
  return r;
}

RunResult RunFanout(const BenchOptions& o) {
  RunResult r;
  r.workload = "fanout x" + std::to_string(o.groups);
  std::string topic = NewTopic("fanout");
  auto producer = Connect(o, &r.error);
  if (!producer) return r;
  if (auto ec = producer->CreateTopic(topic)) {
    r.error = "create topic: " + ec.message();
    return r;
  }
  std::vector<std::unique_ptr<Client>> consumers;
  std::vector<std::unique_ptr<Counter>> counters;
  for (uint32_t g = 0; g < o.groups; ++g) {
    auto c = Connect(o, &r.error);
    if (!c) return r;
    counters.push_back(std::make_unique<Counter>());
    if (auto ec = c->Subscribe({.topic = topic, .group = "g" + std::to_string(g)},
                               CountingHandler(*counters.back()))) {
      r.error = "subscribe: " + ec.message();
      return r;
    }
    consumers.push_back(std::move(c));
  }
  auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(o.max_seconds));
  auto start = Clock::now();
  uint64_t failed = PublishPipelined(*producer, topic, o.count, o.size, o.window, deadline);
  bool all = failed == 0;
  for (auto& c : counters) all = c->WaitFor(o.count, deadline) && all;
  r.seconds = Seconds(Clock::now() - start);
  for (auto& c : counters) {
    std::lock_guard lock(c->mu);
    r.messages += c->received;
  }
  r.complete = all;
  consumers.clear();
  if (!o.keep) producer->DeleteTopic(topic);
  return r;
}

RunResult RunBacklog(const BenchOptions& o) {
  RunResult r;
  r.workload = "backlog";
  std::string topic = NewTopic("backlog");
  auto client = Connect(o, &r.error);
  if (!client) return r;
  if (auto ec = client->CreateTopic(topic)) {
    r.error = "create topic: " + ec.message();
    return r;
  }
  auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(o.max_seconds));
  if (PublishPipelined(*client, topic, o.count, o.size, o.window, deadline) != 0) {
    r.error = "filling the backlog failed";
    return r;
  }
  Counter counter;
  auto start = Clock::now();
  if (auto ec = client->Subscribe({.topic = topic, .group = "drain"}, CountingHandler(counter))) {
    r.error = "subscribe: " + ec.message();
    return r;
  }
  r.complete = counter.WaitFor(o.count, deadline);
  r.seconds = Seconds(Clock::now() - start);
  {
    std::lock_guard lock(counter.mu);
    r.messages = counter.received;
  }
  if (!o.keep) client->DeleteTopic(topic);
  return r;
}

}  // namespace herald::bench
