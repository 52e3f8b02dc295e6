#include "rate_limiter.h"

#include <catch2/catch.hpp>

using namespace herald::services;
using namespace std::chrono_literals;

TEST_CASE("rate_limiter: a burst, then one per interval, each client on its own", "[unit][rate_limiter]") {
  RateLimiter limiter(6, 3);  // 6 a minute: one per 10 s
  auto t = RateLimiter::Clock::now();
  std::chrono::seconds retry{};
  for (int i = 0; i < 3; ++i) CHECK(limiter.Allow("a", t, &retry));
  CHECK_FALSE(limiter.Allow("a", t, &retry));
  CHECK(retry == 10s);
  CHECK(limiter.Allow("b", t, &retry));  // another client
  CHECK_FALSE(limiter.Allow("a", t + 9s, &retry));
  CHECK(retry == 1s);
  CHECK(limiter.Allow("a", t + 10s, &retry));
  CHECK_FALSE(limiter.Allow("a", t + 10s, &retry));
  limiter.Refund("a");  // that one was refused later: it does not count
  CHECK(limiter.Allow("a", t + 10s, &retry));
  // A long pause refills the burst, no more.
  for (int i = 0; i < 3; ++i) CHECK(limiter.Allow("a", t + 1h, &retry));
  CHECK_FALSE(limiter.Allow("a", t + 1h, &retry));
}
