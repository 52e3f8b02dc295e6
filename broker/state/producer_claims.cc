#include "broker/state/producer_claims.h"

namespace herald::broker {

bool ProducerClaims::Claim(uint64_t producer_id, uint64_t session_id) {
  auto [it, inserted] = holder_.try_emplace(producer_id, session_id);
  return inserted || it->second == session_id;
}

void ProducerClaims::Release(uint64_t producer_id, uint64_t session_id) {
  auto it = holder_.find(producer_id);
  if (it != holder_.end() && it->second == session_id) holder_.erase(it);
}

}  // namespace herald::broker
