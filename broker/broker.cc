#include "broker/broker.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <asio/post.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "broker/logging.h"
#include "broker/metrics/http_endpoint.h"
#include "broker/net/listener.h"
#include "broker/net/session.h"
#include "broker/security/principals.h"
#include "broker/state/broker_context.h"
#include "broker/state/reader_pool.h"
#include "broker/state/topic_registry.h"
#include "broker/storage/retention_worker.h"
#include "broker/storage/store.h"
#include "schemas/durable_dir.h"

namespace herald::broker {

namespace {

// Written to a temporary name and renamed, so a reader never sees half a port.
Status WritePortFile(const std::string& path, uint16_t port) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << port << "\n";
    if (!out) return {wire::ErrorCode::Internal, "cannot write " + tmp};
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return {wire::ErrorCode::Internal, fmt::format("cannot rename {}: {}", tmp, ec.message())};
  return Status::Ok();
}

}  // namespace

Broker::Broker(const BrokerConfig& config)
    : config_(config), tick_timer_(io_), position_timer_(io_), drain_timer_(io_) {}

Broker::~Broker() {
  // A reload in progress finishes reading; what it posts never runs.
  reload_thread_.join();
  // Reads in progress finish before the store closes; what they post never runs.
  if (readers_) readers_->Stop();
  // Sessions and groups go first (they reference the registry and store);
  // the store then completes its queue and closes the database.
  metrics_endpoint_.reset();
  listener_.reset();
  // The retention worker waits on store operations: it stops while the store still runs.
  retention_.reset();
  registry_.reset();
  store_.reset();
}

namespace {

SecurityFiles SecurityFilesOf(const BrokerConfig& config) {
  return {config.auth_file, config.tls_cert, config.tls_key};
}

// Loopback is private to this machine; any other address may be reachable
// from a network, where an open broker or clear-text tokens are a risk.
void WarnIfExposed(const BrokerConfig& config, const asio::ip::tcp::endpoint& endpoint) {
  if (endpoint.address().is_loopback()) return;
  if (config.auth_file.empty()) {
    spdlog::get("broker")->warn(
        "listening on {} without auth: anyone who can reach it may publish, read and delete topics "
        "(--auth-file turns auth on; the default --listen is 127.0.0.1)",
        endpoint.address().to_string());
  } else if (config.tls_cert.empty()) {
    spdlog::get("broker")->warn("listening on {} without TLS: tokens and messages cross the network in clear "
                                "text (--tls-cert and --tls-key turn TLS on)",
                                endpoint.address().to_string());
  }
}

}  // namespace

Status Broker::Open(const BrokerConfig& config, std::unique_ptr<Broker>* out) {
  EnsureLoggers();
  std::unique_ptr<Broker> b(new Broker(config));
  SecuritySettings security;
  Status loaded = LoadSecuritySettings(SecurityFilesOf(config), &security);
  if (!loaded.ok()) return loaded;
  if (int err = CreateDirectoriesDurably(config.data_dir)) {
    return {wire::ErrorCode::StorageError,
            fmt::format("cannot create data dir {}: {}", config.data_dir, std::generic_category().message(err))};
  }
  StoreOptions store_options;
  store_options.data_dir = config.data_dir;
  store_options.disk_reserve_bytes = config.disk_reserve_bytes;
  store_options.fsync = config.fsync;
  store_options.fsync_interval = config.fsync_interval;
  store_options.legacy_retention = config.default_retention;
  store_options.debug_read_delay = config.debug_read_delay;
  if (config.debug_read_delay.count() > 0) {
    spdlog::get("broker")->warn("every read of the store waits {} ms first (--debug-read-delay-ms, for tests only)",
                                config.debug_read_delay.count());
  }
  store_options.on_sync = [metrics = &b->metrics_](std::chrono::nanoseconds took) {
    metrics->fsync.Observe(std::chrono::duration<double>(took).count());
  };
  b->storage_completions_ = std::make_unique<IoHandoff>(b->io_);
  Status s = Store::Open(store_options, &b->store_);
  if (!s.ok()) return s;
  // Without a sync to wait for, an append commits on the I/O thread, at the
  // end of the event-loop turn that read it (a post from the I/O thread to
  // itself wakes nothing); a storage-thread round trip would cost two
  // wake-ups per publish.
  Store* store = b->store_.get();
  asio::io_context* io = &b->io_;
  store->CommitAppendsInline([io, store] { asio::post(*io, [store] { store->CommitQueuedAppends(); }); });
  b->readers_ = std::make_unique<ReaderPool>(b->io_, config.reader_threads);
  b->registry_ = std::make_unique<TopicRegistry>(b->io_, *b->storage_completions_, b->store_.get(), b->readers_.get(),
                                                 config.groups, config.tail_cache_bytes, config.default_retention);
  s = b->registry_->Load();
  if (!s.ok()) return s;
  b->ctx_.reset(new BrokerContext{b->io_, b->config_, *b->store_, *b->registry_, *b->storage_completions_});
  Broker* broker = b.get();
  b->retention_ = std::make_unique<RetentionWorker>(
      b->store_.get(), config.retention_interval, [broker](uint64_t topic_id, uint64_t earliest) {
        // Retention thread: the topic and its groups live on the I/O thread.
        asio::post(broker->io_, [broker, topic_id, earliest] {
          if (Topic* topic = broker->registry_->FindById(topic_id)) topic->OnTruncated(earliest);
        });
      });
  b->ctx_->retention = b->retention_.get();
  b->ctx_->reads = b->readers_.get();
  b->listener_ = std::make_unique<Listener>(*b->ctx_);
  b->ctx_->connections = b->listener_.get();
  b->ctx_->metrics = &b->metrics_;
  b->ctx_->principals = std::move(security.principals);
  b->ctx_->tls = std::move(security.tls);
  if (!config.metrics_listen.empty()) {
    b->metrics_endpoint_ = std::make_unique<metrics::MetricsEndpoint>(b->io_);
    s = b->metrics_endpoint_->Bind(config.metrics_listen);
    if (!s.ok()) return s;
    spdlog::get("broker")->info("metrics on http://{}:{}/metrics",
                                b->metrics_endpoint_->local_endpoint().address().to_string(),
                                b->metrics_endpoint_->port());
  }
  s = b->listener_->Bind(config.listen);
  if (!s.ok()) return s;

  auto endpoint = b->listener_->local_endpoint();
  spdlog::get("broker")->info("data dir {}: {} topics, {} groups, fsync {}", config.data_dir,
                              b->registry_->topics().size(), b->registry_->group_count(),
                              config.fsync == FsyncPolicy::kAlways     ? "always"
                              : config.fsync == FsyncPolicy::kInterval ? "interval"
                                                                       : "never");
  if (!config.port_file.empty()) {
    s = WritePortFile(config.port_file, endpoint.port());
    if (!s.ok()) return s;
  }
  spdlog::get("broker")->info("listening on {}{}, auth {}",
                              endpoint.address().is_v6()
                                  ? fmt::format("[{}]:{}", endpoint.address().to_string(), endpoint.port())
                                  : fmt::format("{}:{}", endpoint.address().to_string(), endpoint.port()),
                              b->ctx_->tls ? " (TLS)" : "",
                              b->ctx_->principals
                                  ? fmt::format("on ({} principals)", b->ctx_->principals->size())
                                  : std::string("off"));
  WarnIfExposed(config, endpoint);
  *out = std::move(b);
  return Status::Ok();
}

asio::ip::tcp::endpoint Broker::local_endpoint() const { return listener_->local_endpoint(); }

uint16_t Broker::metrics_port() const { return metrics_endpoint_ ? metrics_endpoint_->port() : 0; }

void Broker::Run() {
  listener_->Start();
  retention_->Start();
  if (metrics_endpoint_) {
    metrics_endpoint_->Start([this] { return RenderBrokerMetrics(*ctx_); },
                             [this] { return !stopping_ && store_->healthy(); });
  }
  ScheduleTick();
  SchedulePositionStore();
  io_.run();
}

void Broker::Stop() {
  asio::post(io_, [this] {
    if (stopping_) return;
    stopping_ = true;
    spdlog::get("broker")->info("stopping: finishing in-flight requests");
    listener_->Stop();
    listener_->ForEachSession([](Session& s) { s.StopReading(); });
    FinishStopWhenDrained(std::chrono::steady_clock::now() + config_.shutdown_grace);
  });
}

void Broker::Reload() {
  asio::post(reload_thread_, [this] {
    SecuritySettings settings;
    Status loaded = LoadSecuritySettings(SecurityFilesOf(config_), &settings);
    asio::post(io_, [this, loaded, settings = std::move(settings)]() mutable {
      ApplyReload(loaded, std::move(settings));
    });
  });
}

void Broker::ApplyReload(const Status& loaded, SecuritySettings settings) {
  if (stopping_) return;
  ctx_->last_reload = {std::chrono::system_clock::now(), !loaded.ok(), loaded.ok() ? "" : loaded.message()};
  if (!loaded.ok()) {
    spdlog::get("broker")->error("reload failed, the settings in force stay: {}", loaded.message());
    return;
  }
  // Only files are reloaded, never flags: whether auth and TLS are on stays
  // as the broker started, so each set is replaced by one of its kind.
  ctx_->tls = std::move(settings.tls);
  std::size_t closed = 0;
  if (settings.principals) {
    ctx_->principals = std::move(settings.principals);
    listener_->ForEachSession([&](Session& s) { closed += s.Reauthenticate(ctx_->principals) ? 0 : 1; });
  }
  spdlog::get("broker")->info("reloaded: auth {}, TLS {}; {} connections closed for revoked tokens",
                              ctx_->principals ? fmt::format("on ({} principals)", ctx_->principals->size())
                                               : std::string("off"),
                              ctx_->tls ? "certificate " + config_.tls_cert : std::string("off"), closed);
}

void Broker::FinishStopWhenDrained(std::chrono::steady_clock::time_point deadline) {
  uint32_t inflight = 0;
  listener_->ForEachSession([&](Session& s) { inflight += s.inflight_requests(); });
  if (inflight > 0 && std::chrono::steady_clock::now() < deadline) {
    drain_timer_.expires_after(std::chrono::milliseconds(10));
    drain_timer_.async_wait([this, deadline](std::error_code) { FinishStopWhenDrained(deadline); });
    return;
  }
  if (inflight > 0) spdlog::get("broker")->warn("stopping with {} requests unanswered", inflight);
  // Positions go to the store queue now; the store completes them before it closes.
  registry_->StorePositions(/*sync=*/true);
  tick_timer_.cancel();
  position_timer_.cancel();
  // Replies already queued (publish acks above all) still reach their clients.
  listener_->ForEachSession([](Session& s) { s.CloseWhenFlushed(); });
  StopWhenSessionsClosed(std::chrono::steady_clock::now() + std::chrono::seconds(2));
}

void Broker::StopWhenSessionsClosed(std::chrono::steady_clock::time_point deadline) {
  bool open = false;
  listener_->ForEachSession([&](Session& s) { open |= !s.closed(); });
  if (open && std::chrono::steady_clock::now() < deadline) {
    drain_timer_.expires_after(std::chrono::milliseconds(10));
    drain_timer_.async_wait([this, deadline](std::error_code) { StopWhenSessionsClosed(deadline); });
    return;
  }
  listener_->ForEachSession([](Session& s) { s.Close(); });
  if (metrics_endpoint_) metrics_endpoint_->Stop();
  io_.stop();
  spdlog::get("broker")->info("stopped");
}

void Broker::ScheduleTick() {
  tick_timer_.expires_after(config_.tick_interval);
  tick_timer_.async_wait([this](std::error_code ec) {
    if (ec || stopping_) return;
    registry_->Tick(std::chrono::steady_clock::now());
    ScheduleTick();
  });
}

void Broker::SchedulePositionStore() {
  position_timer_.expires_after(config_.position_store_interval);
  position_timer_.async_wait([this](std::error_code ec) {
    if (ec || stopping_) return;
    registry_->StorePositions(/*sync=*/false);
    SchedulePositionStore();
  });
}

}  // namespace herald::broker
