#pragma once
// The process's file-descriptor limit (RLIMIT_NOFILE) against what brokerd
// needs: one descriptor per connection, authenticated or pending, plus what
// storage keeps open (the journal reader up to 256 segment files, RocksDB its
// SST files, WAL and manifest). Called once at start, before any thread.

#include <cstdint>

#include "broker/broker_config.h"

namespace herald::broker {

// Descriptors storage and the rest of the broker keep besides connections.
inline constexpr uint64_t kStorageDescriptors = 512;

// Connections at both limits plus kStorageDescriptors.
uint64_t DescriptorsNeeded(const BrokerConfig& config);

// Raises the soft limit to the hard one (as nats-server and redis do: the
// soft default, often 1024, is far below --max-connections) and logs a
// warning when the limit is still below `needed`. Returns the soft limit now.
uint64_t RaiseDescriptorLimit(uint64_t needed);

}  // namespace herald::broker
