#pragma once
// The load of a power-loss cycle: producers and acking group members on SDK
// clients, against brokerd or nats-server, and what they were told.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "herald/client.h"
#include "tests/support/server_process.h"

namespace herald::powerloss {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr const char* kTopic = "powerloss";
constexpr int kProducers = 3;
constexpr int kGroups = 2;
constexpr uint32_t kProducerWindow = 64;
constexpr uint64_t kRetainedMessages = 4000;

// HERALD_POWERLOSS_CUTS, else 20; 5 under a sanitizer, whose builds run the
// same cycles several times slower (the plain build's run is the one that
// gates the counts).
inline int CutsFromEnvironment() {
  const char* v = std::getenv("HERALD_POWERLOSS_CUTS");
  if (v != nullptr && std::atoi(v) > 0) return std::atoi(v);
  return herald::test::kThreadSanitizer || herald::test::kAddressSanitizer ? 5 : 20;
}

// What the clients were told, across every cycle.
struct Acknowledged {
  std::mutex mu;
  std::map<uint64_t, std::string> by_offset;        // offset -> message id, from publish acks
  std::map<uint64_t, Clock::time_point> acked_at;  // when the ack arrived
  std::vector<std::set<uint64_t>> group_acks = std::vector<std::set<uint64_t>>(kGroups);
  uint64_t total = 0;
};

inline std::string MessageId(int cycle, int producer, uint64_t seq) {
  return "c" + std::to_string(cycle) + "-p" + std::to_string(producer) + "-" + std::to_string(seq);
}

inline std::string IdOf(std::string_view payload) { return std::string(payload.substr(0, payload.find('|'))); }

// Producers and group members of one cycle, on SDK clients.
class Load {
 public:
  Load(const std::string& address, int cycle, Acknowledged& acked) : acked_(acked) {
    for (int g = 0; g < kGroups; ++g) {
      auto c = std::make_unique<herald::Client>(herald::ClientOptions{.broker = address});
      herald::SubscribeOptions o{.topic = kTopic, .group = "g" + std::to_string(g), .window = 200};
      c->Subscribe(o, [this, g](const herald::Delivery& d) {
        {
          std::lock_guard lock(acked_.mu);
          acked_.group_acks[g].insert(d.message().offset);
        }
        d.ack();
      });
      consumers_.push_back(std::move(c));
    }
    for (int p = 0; p < kProducers; ++p) {
      threads_.emplace_back([this, address, cycle, p] { Produce(address, cycle, p); });
    }
  }

  ~Load() {
    stop_ = true;
    for (auto& t : threads_) t.join();
    consumers_.clear();
  }

 private:
  void Produce(const std::string& address, int cycle, int producer) {
    herald::Client client(herald::ClientOptions{.broker = address, .request_timeout = 2s});
    std::mutex mu;
    std::condition_variable cv;
    uint32_t in_flight = 0;
    std::string filler(96, static_cast<char>('a' + producer));
    for (uint64_t seq = 0; !stop_; ++seq) {
      {
        std::unique_lock lock(mu);
        if (!cv.wait_for(lock, 50ms, [&] { return in_flight < kProducerWindow; })) {
          --seq;
          continue;
        }
        ++in_flight;
      }
      const std::string id = MessageId(cycle, producer, seq);
      client.Publish(kTopic, herald::Message{{}, {}, id + "|" + filler}, [&, id](const herald::PublishResult& r) {
        if (!r.error && !r.duplicate) {
          std::lock_guard lock(acked_.mu);
          acked_.by_offset[r.offset] = id;
          acked_.acked_at[r.offset] = Clock::now();
          ++acked_.total;
        }
        std::lock_guard lock(mu);
        --in_flight;
        cv.notify_all();
      });
    }
    // The client's destructor fails what is still pending; those were never acknowledged.
  }

  Acknowledged& acked_;
  std::atomic<bool> stop_{false};
  std::vector<std::unique_ptr<herald::Client>> consumers_;
  std::vector<std::thread> threads_;
};

}  // namespace herald::powerloss
