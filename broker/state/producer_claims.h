#pragma once
// ProducerClaims: which connection each producer id is bound to. The broker's
// deduplication keys on (topic, producer id) alone, so a second connection
// using an id that another one is publishing with would have its first
// batches answered "duplicate" without storing them (and could make the
// first connection's retries look new). An id belongs to the first connection
// that publishes with it, until that connection stops being read (it closes,
// or the broker is closing it); a reconnecting producer then takes it again.
//
// Thread: the broker's I/O thread.

#include <cstdint>
#include <unordered_map>

namespace herald::broker {

class ProducerClaims {
 public:
  // True if `session_id` holds `producer_id` now: it already did, or the id
  // was free and is now bound to it.
  bool Claim(uint64_t producer_id, uint64_t session_id);
  // Frees the id if `session_id` holds it.
  void Release(uint64_t producer_id, uint64_t session_id);
  std::size_t size() const { return holder_.size(); }

 private:
  std::unordered_map<uint64_t, uint64_t> holder_;  // producer id -> session id
};

}  // namespace herald::broker
