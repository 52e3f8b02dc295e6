#pragma once
// Broker: brokerd without its command line. Owns the I/O context, the store,
// the topic registry and the listener, and their start and stop order. Tests
// and the SDK's in-process broker run it on a thread of their own.
//
// Thread: Run() runs the I/O context on the calling thread (the broker's one
// I/O thread); the store adds its storage thread, reads that may touch the
// disk run on reader threads (ReaderPool), and reloads read their files on a
// thread of their own. Stop() and Reload() may be called from
// any thread.

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/thread_pool.hpp>
#include <memory>

#include "broker/broker_config.h"
#include "broker/metrics/broker_metrics.h"
#include "broker/security/security_settings.h"
#include "broker/status.h"

namespace herald::broker {

class IoHandoff;
class ReaderPool;
class Store;
class TopicRegistry;
class Listener;
class RetentionWorker;
namespace metrics { class MetricsEndpoint; }
struct BrokerContext;

class Broker {
 public:
  // Opens the data dir, loads topics and groups, binds the listen address and
  // writes the port file. Nothing is served until Run().
  static Status Open(const BrokerConfig& config, std::unique_ptr<Broker>* out);
  ~Broker();

  asio::ip::tcp::endpoint local_endpoint() const;
  // The /metrics listener's port; 0 when --metrics-listen is off.
  uint16_t metrics_port() const;
  asio::io_context& io() { return io_; }

  // Serves until Stop() has finished. Returns after the last session closed.
  void Run();
  // Graceful stop: no new connections or requests, in-flight publishes finish
  // (up to shutdown_grace), group positions are stored, sessions close.
  void Stop();
  // Reads the principals file and the TLS certificate and key again (brokerd
  // does on SIGHUP) and swaps them in without dropping healthy connections:
  // new connections use the new ones; a live connection keeps going as the
  // principal its token names now (its rights apply from its next request),
  // or is closed with AuthenticationFailed if its token names no one. All or
  // nothing: if any file fails, the settings in force stay and the error is
  // logged and shown by status and /metrics.
  void Reload();

 private:
  explicit Broker(const BrokerConfig& config);
  void ScheduleTick();
  void SchedulePositionStore();
  void FinishStopWhenDrained(std::chrono::steady_clock::time_point deadline);
  void StopWhenSessionsClosed(std::chrono::steady_clock::time_point deadline);
  // I/O thread: the end of Reload, with what the reload thread read.
  void ApplyReload(const Status& loaded, SecuritySettings settings);

  BrokerConfig config_;
  asio::io_context io_{1};
  BrokerMetrics metrics_;  // before the store: its sync observer writes here
  // Before the store, whose completions it takes to the I/O thread.
  std::unique_ptr<IoHandoff> storage_completions_;
  std::unique_ptr<Store> store_;
  // Reads of the store that may touch the disk; stopped before the store closes.
  std::unique_ptr<ReaderPool> readers_;
  std::unique_ptr<TopicRegistry> registry_;
  std::unique_ptr<RetentionWorker> retention_;
  std::unique_ptr<BrokerContext> ctx_;
  std::unique_ptr<Listener> listener_;
  std::unique_ptr<metrics::MetricsEndpoint> metrics_endpoint_;
  asio::steady_timer tick_timer_;
  asio::steady_timer position_timer_;
  asio::steady_timer drain_timer_;
  bool stopping_ = false;
  // Reloads read files here, never on the I/O thread. Declared last: it is
  // joined first, while everything its posted work touches still exists.
  asio::thread_pool reload_thread_{1};
};

}  // namespace herald::broker
