#include "rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace herald::services {

namespace {

double Refilled(double tokens, double per_second, double burst, std::chrono::duration<double> elapsed) {
  return std::min(burst, tokens + elapsed.count() * per_second);
}

}  // namespace

bool RateLimiter::Allow(const std::string& client, Clock::time_point now, std::chrono::seconds* retry_after) {
  std::lock_guard lock(mu_);
  if (buckets_.size() >= kMaxClients) ForgetRefilled(now);
  auto [it, added] = buckets_.try_emplace(client, Bucket{burst_, now});
  Bucket& b = it->second;
  b.tokens = Refilled(b.tokens, per_second_, burst_, now - b.updated);
  b.updated = now;
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return true;
  }
  *retry_after = std::chrono::seconds(static_cast<long long>(std::ceil((1.0 - b.tokens) / per_second_)));
  return false;
}

void RateLimiter::Refund(const std::string& client) {
  std::lock_guard lock(mu_);
  auto it = buckets_.find(client);
  if (it != buckets_.end()) it->second.tokens = std::min(burst_, it->second.tokens + 1.0);
}

void RateLimiter::ForgetRefilled(Clock::time_point now) {
  std::erase_if(buckets_, [&](const auto& entry) {
    return Refilled(entry.second.tokens, per_second_, burst_, now - entry.second.updated) >= burst_;
  });
}

}  // namespace herald::services
