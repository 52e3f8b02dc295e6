#include "broker/broker.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <asio/post.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "broker/dispatch/topic_registry.h"
#include "broker/logging.h"
#include "broker/metrics/http_endpoint.h"
#include "broker/net/broker_context.h"
#include "broker/net/listener.h"
#include "broker/net/session.h"
#include "broker/storage/retention_worker.h"
#include "broker/storage/store.h"

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
  // Sessions and groups go first (they reference the registry and store);
  // the store then completes its queue and closes the database.
  metrics_endpoint_.reset();
  listener_.reset();
  // The retention worker waits on store operations: it stops while the store still runs.
  retention_.reset();
  registry_.reset();
  store_.reset();
}

Status Broker::Open(const BrokerConfig& config, std::unique_ptr<Broker>* out) {
  EnsureLoggers();
  std::unique_ptr<Broker> b(new Broker(config));
  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  if (ec) {
    return {wire::ErrorCode::StorageError,
            fmt::format("cannot create data dir {}: {}", config.data_dir, ec.message())};
  }
  StoreOptions store_options;
  store_options.data_dir = config.data_dir;
  store_options.fsync = config.fsync;
  store_options.fsync_interval = config.fsync_interval;
  store_options.legacy_retention = config.default_retention;
  store_options.on_sync = [metrics = &b->metrics_](std::chrono::nanoseconds took) {
    metrics->fsync.Observe(std::chrono::duration<double>(took).count());
  };
  Status s = Store::Open(store_options, &b->store_);
  if (!s.ok()) return s;
  b->registry_ = std::make_unique<TopicRegistry>(b->io_, b->store_.get(), config.groups,
                                                 config.tail_cache_bytes, config.default_retention);
  s = b->registry_->Load();
  if (!s.ok()) return s;
  b->ctx_.reset(new BrokerContext{b->io_, b->config_, *b->store_, *b->registry_});
  Broker* broker = b.get();
  b->retention_ = std::make_unique<RetentionWorker>(
      b->store_.get(), config.retention_interval, [broker](uint64_t topic_id, uint64_t earliest) {
        // Retention thread: the topic and its groups live on the I/O thread.
        asio::post(broker->io_, [broker, topic_id, earliest] {
          if (Topic* topic = broker->registry_->FindById(topic_id)) topic->OnTruncated(earliest);
        });
      });
  b->ctx_->retention = b->retention_.get();
  b->listener_ = std::make_unique<Listener>(*b->ctx_);
  b->ctx_->listener = b->listener_.get();
  b->ctx_->metrics = &b->metrics_;
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
  std::size_t groups = 0;
  for (const auto& [name, topic] : b->registry_->topics()) groups += topic->groups().size();
  spdlog::get("broker")->info("data dir {}: {} topics, {} groups, fsync {}", config.data_dir,
                              b->registry_->topics().size(), groups,
                              config.fsync == FsyncPolicy::kAlways     ? "always"
                              : config.fsync == FsyncPolicy::kInterval ? "interval"
                                                                       : "never");
  if (!config.port_file.empty()) {
    s = WritePortFile(config.port_file, endpoint.port());
    if (!s.ok()) return s;
  }
  spdlog::get("broker")->info("listening on {}",
                              endpoint.address().is_v6()
                                  ? fmt::format("[{}]:{}", endpoint.address().to_string(), endpoint.port())
                                  : fmt::format("{}:{}", endpoint.address().to_string(), endpoint.port()));
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
