#pragma once
// What every session and request handler shares. All of it lives as long as
// the Broker; the registry is touched only on the I/O thread.

#include <asio/io_context.hpp>

#include "broker/broker_config.h"
#include "broker/dispatch/topic_registry.h"
#include "broker/storage/store.h"

namespace herald::broker {

struct BrokerContext {
  asio::io_context& io;
  const BrokerConfig& config;
  Store& store;
  TopicRegistry& registry;
};

}  // namespace herald::broker
