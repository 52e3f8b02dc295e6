#pragma once
// BrokerContext: the broker-wide state every session, request handler and
// the metrics page share. It names no session and no socket (the listener is
// seen as ConnectionCounts), so that layers beside net can read it. All of it
// lives as long as the Broker; the registry is touched only on the I/O thread.

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include <asio/io_context.hpp>

#include "broker/broker_config.h"
#include "broker/state/io_handoff.h"
#include "broker/state/producer_claims.h"
#include "broker/state/topic_registry.h"
#include "broker/storage/read_runner.h"
#include "broker/storage/store.h"

namespace asio::ssl {
class context;
}

namespace herald::broker {

class ConnectionCounts;
class Principals;

// The last reload of the security settings (SIGHUP), for status and /metrics.
struct ReloadRecord {
  std::chrono::system_clock::time_point at;
  bool failed = false;
  std::string error;  // why it failed: the file (and line) and what was wrong
};
class RetentionWorker;
struct BrokerMetrics;

struct BrokerContext {
  asio::io_context& io;
  const BrokerConfig& config;
  Store& store;
  TopicRegistry& registry;
  IoHandoff& storage_completions;  // the store's completions, to the I/O thread in order
  RetentionWorker* retention = nullptr;  // gives back the space of purged topics
  ReadRunner* reads = nullptr;           // reads that may touch the disk, off the I/O thread
  const ConnectionCounts* connections = nullptr;  // the listener's
  BrokerMetrics* metrics = nullptr;      // counters the handlers bump
  // Auth on: who may connect, and their ACLs. A reload swaps in a new set;
  // sessions keep the principal they were admitted as until Reauthenticate.
  std::shared_ptr<const Principals> principals;
  // TLS on: every connection is TLS. New connections take the newest context;
  // each session holds the one it was accepted with.
  std::shared_ptr<asio::ssl::context> tls;
  // When the security settings were last loaded: the start, then each reload.
  ReloadRecord last_reload{std::chrono::system_clock::now()};
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  ProducerClaims producer_claims;        // which connection publishes with each producer id
};

}  // namespace herald::broker
