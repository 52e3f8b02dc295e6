#pragma once
// RateLimiter: a token bucket per client (the gateway keys it by the peer's
// address): `burst` requests at once, then one per 1/rate seconds. Bounded
// in memory: past kMaxClients it forgets the clients whose bucket has
// refilled, which is the same as keeping them.
//
// Thread: any.

#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

namespace herald::services {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::size_t kMaxClients = 100'000;

  // `per_minute` requests a minute on average, `burst` at once (both >= 1).
  RateLimiter(double per_minute, double burst) : per_second_(per_minute / 60.0), burst_(burst) {}

  // True: the request may go ahead (and used a token). False: *retry_after
  // is how long until the next token.
  bool Allow(const std::string& client, Clock::time_point now, std::chrono::seconds* retry_after);
  // Gives back the token of an allowed request that was then refused (bad
  // input, a service down): only what is created counts.
  void Refund(const std::string& client);

 private:
  struct Bucket {
    double tokens;
    Clock::time_point updated;
  };
  void ForgetRefilled(Clock::time_point now);  // REQUIRES: mu_ held

  const double per_second_, burst_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;  // guarded by mu_
};

}  // namespace herald::services
