#pragma once
// What the four Herald workloads share: connecting, a topic of their own, a
// windowed publisher and a counting consumer.
//
// Lifetime: SDK callbacks run on each Client's I/O thread and may still come
// after a run gave up (deadline passed). So any state a callback touches lives
// in a shared_ptr the callback holds, never on the run's stack.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "bench.h"
#include "herald/client.h"

namespace herald::bench {

// Connects within o.connect_timeout_s; on failure returns null and says why in *error.
std::unique_ptr<Client> ConnectClient(const BenchOptions& o, std::string* error);

// A fresh topic "bench-<workload>-<random>", deleted on destruction unless --keep.
// REQUIRES: the client outlives this object.
class BenchTopic {
 public:
  BenchTopic(Client& client, const std::string& workload, bool keep);
  ~BenchTopic();
  BenchTopic(const BenchTopic&) = delete;
  BenchTopic& operator=(const BenchTopic&) = delete;

  // Creates the topic; on failure returns false and says why in *error.
  bool Create(std::string* error);
  const std::string& name() const { return name_; }

 private:
  Client& client_;
  std::string name_;
  bool keep_;
  bool created_ = false;
};

// Publishes `count` messages of `size` bytes with at most `window` unacked and
// waits for every ack, until `give_up`. Returns how many were not acked
// successfully (0 = all stored). With a window of 1 and round_trips_us set,
// appends each acked publish's round trip (Publish call to its ack) there:
// with nothing else in flight it is the latency a caller sees.
uint64_t PublishPipelined(Client& client, const std::string& topic, uint64_t count, std::size_t size,
                          uint32_t window, Clock::time_point give_up, std::vector<double>* round_trips_us = nullptr);

// --producers clients (at least one); the first also creates and deletes the
// topic. On failure returns none and says why in *error.
std::vector<std::unique_ptr<Client>> ConnectProducers(const BenchOptions& o, std::string* error);

// Publishes o.count messages of o.size bytes to `topic`, split evenly over the
// producers, each from a thread of its own with o.window unacked. Returns how
// many were not acked successfully. round_trips_us: as PublishPipelined's, over all producers.
uint64_t PublishFromAll(const std::vector<std::unique_ptr<Client>>& producers, const std::string& topic,
                        const BenchOptions& o, Clock::time_point give_up,
                        std::vector<double>* round_trips_us = nullptr);

// Counts one group's deliveries and acks each one. Owned by shared_ptr: the
// handler keeps it alive.
class DeliveryCounter : public std::enable_shared_from_this<DeliveryCounter> {
 public:
  static std::shared_ptr<DeliveryCounter> Make() { return std::make_shared<DeliveryCounter>(); }

  MessageHandler Handler();
  // Waits until at least n deliveries arrived; false if the deadline passed first.
  bool WaitFor(uint64_t n, Clock::time_point deadline);
  uint64_t received();
  Clock::time_point last_delivery();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t received_ = 0;
  uint64_t wanted_ = UINT64_MAX;  // the waiter's target: notify only when it is reached
  Clock::time_point last_{};
};

}  // namespace herald::bench
