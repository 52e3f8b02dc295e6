#pragma once
// What every session and request handler shares. All of it lives as long as
// the Broker; the registry is touched only on the I/O thread.

#include <chrono>

#include <asio/io_context.hpp>

#include "broker/broker_config.h"
#include "broker/dispatch/topic_registry.h"
#include "broker/net/producer_claims.h"
#include "broker/storage/store.h"

namespace asio::ssl {
class context;
}

namespace herald::broker {

class Listener;
class Principals;
class RetentionWorker;
struct BrokerMetrics;

struct BrokerContext {
  asio::io_context& io;
  const BrokerConfig& config;
  Store& store;
  TopicRegistry& registry;
  RetentionWorker* retention = nullptr;  // gives back the space of purged topics
  Listener* listener = nullptr;          // for connection counts
  BrokerMetrics* metrics = nullptr;      // counters the handlers bump
  const Principals* principals = nullptr;  // auth on: who may connect, and their ACLs
  asio::ssl::context* tls = nullptr;     // TLS on: every connection is TLS
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  ProducerClaims producer_claims;        // which connection publishes with each producer id
};

}  // namespace herald::broker
