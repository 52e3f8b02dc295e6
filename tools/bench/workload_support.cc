#include "workload_support.h"

#include <atomic>
#include <random>
#include <thread>

#include <fmt/format.h>

#include "payload_source.h"

namespace herald::bench {

std::unique_ptr<Client> ConnectClient(const BenchOptions& o, std::string* error) {
  ClientOptions co;
  co.broker = o.broker;
  co.client_name = "broker-bench";
  co.max_pending_bytes = 1u << 30;  // the window, not the SDK's buffer, limits what is in flight
  // Bounds the clean-up (DeleteTopic) after a run against a stuck broker gave up.
  co.request_timeout = std::chrono::seconds(10);
  auto c = std::make_unique<Client>(co);
  auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(FromSeconds(o.connect_timeout_s));
  if (auto ec = c->WaitConnected(timeout)) {
    *error = fmt::format("cannot connect to {} within {} s: {}", o.broker, o.connect_timeout_s, ec.message());
    return nullptr;
  }
  return c;
}

std::vector<std::unique_ptr<Client>> ConnectProducers(const BenchOptions& o, std::string* error) {
  std::vector<std::unique_ptr<Client>> clients;
  for (uint32_t p = 0; p < std::max<uint32_t>(o.producers, 1); ++p) {
    auto c = ConnectClient(o, error);
    if (!c) return {};
    clients.push_back(std::move(c));
  }
  return clients;
}

uint64_t PublishFromAll(const std::vector<std::unique_ptr<Client>>& producers, const std::string& topic,
                        const BenchOptions& o, Clock::time_point give_up, std::vector<double>* round_trips_us) {
  std::atomic<uint64_t> failed{0};
  std::vector<std::thread> threads;
  const auto n = static_cast<uint64_t>(producers.size());
  std::vector<std::vector<double>> per_producer(n);
  for (uint64_t p = 0; p < n; ++p) {
    threads.emplace_back([&, p] {
      failed += PublishPipelined(*producers[p], topic, ShareOf(o.count, n, p), o.size, o.window, give_up,
                                 round_trips_us ? &per_producer[p] : nullptr);
    });
  }
  for (auto& t : threads) t.join();
  if (round_trips_us) {
    for (const auto& v : per_producer) round_trips_us->insert(round_trips_us->end(), v.begin(), v.end());
  }
  return failed;
}

BenchTopic::BenchTopic(Client& client, const std::string& workload, bool keep)
    : client_(client), keep_(keep) {
  std::random_device rd;
  name_ = fmt::format("bench-{}-{:06}", workload, rd() % 1'000'000);
}

BenchTopic::~BenchTopic() {
  if (created_ && !keep_) client_.DeleteTopic(name_);
}

bool BenchTopic::Create(std::string* error) {
  if (auto ec = client_.CreateTopic(name_)) {
    *error = fmt::format("create topic {}: {}", name_, ec.message());
    return false;
  }
  created_ = true;
  return true;
}

uint64_t PublishPipelined(Client& client, const std::string& topic, uint64_t count, std::size_t size,
                          uint32_t window, Clock::time_point give_up, std::vector<double>* round_trips_us) {
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    uint64_t in_flight = 0, failed = 0;
    bool timing = false;
    std::vector<double> round_trips_us;
  };
  auto st = std::make_shared<State>();
  window = std::max<uint32_t>(window, 1);
  st->timing = round_trips_us != nullptr && window == 1;
  if (st->timing) st->round_trips_us.reserve(count);
  // Seeded per client: producers sending the same bytes would compress again.
  PayloadSource payloads(size, reinterpret_cast<uintptr_t>(&client));
  for (uint64_t i = 0; i < count; ++i) {
    {
      std::unique_lock lock(st->mu);
      if (!st->cv.wait_until(lock, give_up, [&] { return st->in_flight < window; })) {
        return count - i + st->failed + st->in_flight;
      }
      ++st->in_flight;
    }
    Message message{{}, {}, payloads.Next()};
    const auto sent = Clock::now();
    client.Publish(topic, std::move(message), [st, window, sent](const PublishResult& r) {
      const auto acked = Clock::now();
      std::lock_guard lock(st->mu);
      --st->in_flight;
      if (r.error) ++st->failed;
      if (st->timing && !r.error) {
        st->round_trips_us.push_back(std::chrono::duration<double, std::micro>(acked - sent).count());
      }
      // Wake the publisher only when it can be waiting: window just reopened, or all acked.
      if (st->in_flight + 1 == window || st->in_flight == 0) st->cv.notify_all();
    });
  }
  std::unique_lock lock(st->mu);
  st->cv.wait_until(lock, give_up, [&] { return st->in_flight == 0; });
  if (st->timing) *round_trips_us = st->round_trips_us;  // a copy: a late ack may still append to st's
  return st->failed + st->in_flight;
}

MessageHandler DeliveryCounter::Handler() {
  return [self = shared_from_this()](const Delivery& d) {
    d.ack();
    std::lock_guard lock(self->mu_);
    self->last_ = Clock::now();
    if (++self->received_ == self->wanted_) self->cv_.notify_all();
  };
}

bool DeliveryCounter::WaitFor(uint64_t n, Clock::time_point deadline) {
  std::unique_lock lock(mu_);
  wanted_ = n;
  bool ok = cv_.wait_until(lock, deadline, [&] { return received_ >= n; });
  wanted_ = UINT64_MAX;
  return ok;
}

uint64_t DeliveryCounter::received() {
  std::lock_guard lock(mu_);
  return received_;
}

Clock::time_point DeliveryCounter::last_delivery() {
  std::lock_guard lock(mu_);
  return last_;
}

}  // namespace herald::bench
