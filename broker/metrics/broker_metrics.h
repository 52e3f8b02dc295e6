#pragma once
// BrokerMetrics: the counters and histograms brokerd keeps for /metrics, and
// the function that renders them together with what the registry, the store
// and the listener already know (offsets, lag, sizes, connections). Gauges
// are read at scrape time; only what cannot be read later is counted here.
//
// Thread: the histograms take observations from any thread; topic counters
// and RenderBrokerMetrics belong to the broker's I/O thread.

#include <array>
#include <cstdint>
#include <map>
#include <string>

#include "broker/metrics/histogram.h"
#include "schemas/frame.h"

namespace herald::broker {

struct BrokerContext;

struct BrokerMetrics {
  struct TopicCounters {
    uint64_t messages_in = 0;
    uint64_t bytes_in = 0;  // stored batch bytes
  };
  std::map<uint64_t, TopicCounters> topics;  // by topic id; I/O thread
  metrics::Histogram publish_to_ack;         // Publish read -> PublishOk queued
  metrics::Histogram fsync;                  // one synced group commit
  uint64_t authentication_failures = 0;      // Hellos refused for their token; I/O thread
  uint64_t requests_denied = 0;              // NotAuthorized replies; I/O thread
  // Requests by their body type; error replies by code and by the type of
  // the request they answer (NONE: a connection-level error). I/O thread.
  std::array<uint64_t, static_cast<std::size_t>(wire::Body::MAX) + 1> requests{};
  std::array<uint64_t, static_cast<std::size_t>(wire::ErrorCode::MAX) + 1> errors{};
  std::array<uint64_t, static_cast<std::size_t>(wire::Body::MAX) + 1> failures{};
  void CountError(wire::Body request, wire::ErrorCode code) {
    if (code <= wire::ErrorCode::MAX) ++errors[static_cast<std::size_t>(code)];
    if (request <= wire::Body::MAX) ++failures[static_cast<std::size_t>(request)];
  }
};

std::string RenderBrokerMetrics(BrokerContext& ctx);

}  // namespace herald::broker
