#pragma once
// MetricsEndpoint: a minimal HTTP/1.1 server for Prometheus scrapes and health
// checks. It serves
//   GET /metrics  200, text/plain; version=0.0.4, body from render()
//   GET /healthz  200 "ok\n" while healthy() is true, else 503 "unhealthy\n"
// and answers 404 for other paths, 405 for other methods, 400 for requests it
// cannot parse and 431 (then close) for a request head above max_head_bytes.
// Every response carries Connection: close. A connection lives at most
// connection_timeout, so silent clients cannot pile up, and at most
// max_connections are served at once (more are accepted and closed at once).
//
// Use (in the broker, with config.metrics_listen non-empty):
//   MetricsEndpoint endpoint(io);
//   Status s = endpoint.Bind(config.metrics_listen);   // "127.0.0.1:9400"; port 0 = any
//   if (!s.ok()) ... refuse to start, like a bad --listen
//   endpoint.Start([&] { return RenderMetrics(...); }, [&] { return store_ok; });
//   ...
//   endpoint.Stop();  // before the objects render() and healthy() use go away
//
// Thread: the io_context's thread. REQUIRES: `io` is run by one thread (the
// broker's I/O thread) and every method is called on it or before it runs.
// render() and healthy() run on that thread too, so they may read I/O-thread
// state directly; they must not block. The endpoint may be destroyed while
// `io` still runs: its pending operations hold only internal state, and
// neither function is called again after Stop() or destruction. Like any
// Asio I/O object, it must be destroyed before `io` is.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include "broker/status.h"

namespace herald::broker::metrics {

struct EndpointState;  // http_endpoint.cc; shared with the endpoint's coroutines

struct MetricsEndpointOptions {
  std::chrono::milliseconds connection_timeout{10'000};  // from accept to close, whatever happens
  std::size_t max_connections = 64;
  std::size_t max_head_bytes = 8 * 1024;
};

class MetricsEndpoint {
 public:
  using RenderFn = std::function<std::string()>;
  using HealthFn = std::function<bool()>;

  explicit MetricsEndpoint(asio::io_context& io, MetricsEndpointOptions options = {});
  ~MetricsEndpoint();  // Stop()
  MetricsEndpoint(const MetricsEndpoint&) = delete;
  MetricsEndpoint& operator=(const MetricsEndpoint&) = delete;

  // Binds and listens on HOST:PORT ("[::1]:0" for IPv6; port 0 picks a free port).
  Status Bind(const std::string& host_port);
  // The bound address (port() > 0 after a successful Bind).
  asio::ip::tcp::endpoint local_endpoint() const;
  uint16_t port() const { return local_endpoint().port(); }

  // REQUIRES: Bind() succeeded, Start() not called before.
  void Start(RenderFn render, HealthFn healthy);
  // Closes the acceptor and every connection. Idempotent.
  void Stop();

 private:
  std::shared_ptr<EndpointState> state_;
};

}  // namespace herald::broker::metrics
