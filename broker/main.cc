// brokerd: the Herald broker daemon. Flags -> BrokerConfig, then Broker::Run
// until SIGINT or SIGTERM.

#include <csignal>
#include <cstdio>

#include <CLI/CLI.hpp>
#include <asio/signal_set.hpp>
#include <spdlog/spdlog.h>

#include "broker/broker.h"
#include "broker/logging.h"
#include "broker/version.h"

int main(int argc, char** argv) {
  using namespace herald::broker;
  BrokerConfig config;
  std::string fsync = "always";
  std::string log_level = "info";
  uint32_t window = config.groups.default_window;
  uint32_t ack_deadline_ms = static_cast<uint32_t>(config.groups.default_ack_deadline.count());
  uint32_t fsync_interval_ms = static_cast<uint32_t>(config.fsync_interval.count());

  CLI::App app{"brokerd: the Herald message broker"};
  app.set_version_flag("--version", kBrokerVersion);
  app.add_option("--listen", config.listen, "HOST:PORT to listen on; port 0 picks a free port")
      ->capture_default_str();
  app.add_option("--data-dir", config.data_dir, "directory of the RocksDB database")
      ->capture_default_str();
  app.add_option("--fsync", fsync, "when the write-ahead log is fsynced before acks")
      ->check(CLI::IsMember({"always", "interval", "never"}))
      ->capture_default_str();
  app.add_option("--fsync-interval-ms", fsync_interval_ms, "period of --fsync interval")
      ->check(CLI::Range(1u, 60'000u))
      ->capture_default_str();
  app.add_option("--port-file", config.port_file, "write the bound port to this file");
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error|critical|off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->capture_default_str();
  app.add_option("--max-frame-bytes", config.max_frame_bytes, "largest accepted frame")
      ->check(CLI::Range(1024u, 256u << 20))
      ->capture_default_str();
  app.add_option("--max-payload-bytes", config.max_payload_bytes, "largest accepted payload")
      ->check(CLI::Range(1u, 256u << 20))
      ->capture_default_str();
  app.add_option("--default-window", window, "unacked messages per member unless it asks")
      ->check(CLI::Range(1u, 1'000'000u))
      ->capture_default_str();
  app.add_option("--default-ack-deadline-ms", ack_deadline_ms, "ack deadline unless a member asks")
      ->check(CLI::Range(10u, 86'400'000u))
      ->capture_default_str();
  uint32_t handshake_timeout_ms = static_cast<uint32_t>(config.handshake_timeout.count());
  uint32_t frame_timeout_ms = static_cast<uint32_t>(config.frame_timeout.count());
  app.add_option("--handshake-timeout-ms", handshake_timeout_ms, "close connections without Hello after this")
      ->check(CLI::Range(10u, 3'600'000u))
      ->capture_default_str();
  app.add_option("--frame-timeout-ms", frame_timeout_ms, "close connections that leave a frame half-sent this long")
      ->check(CLI::Range(10u, 3'600'000u))
      ->capture_default_str();
  app.add_option("--max-connections", config.max_connections, "refuse connections above this many")
      ->check(CLI::Range(1u, 1'000'000u))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  config.handshake_timeout = std::chrono::milliseconds(handshake_timeout_ms);
  config.frame_timeout = std::chrono::milliseconds(frame_timeout_ms);

  config.fsync = fsync == "always" ? FsyncPolicy::kAlways
                 : fsync == "interval" ? FsyncPolicy::kInterval
                                       : FsyncPolicy::kNever;
  config.fsync_interval = std::chrono::milliseconds(fsync_interval_ms);
  config.groups.default_window = window;
  config.groups.default_ack_deadline = std::chrono::milliseconds(ack_deadline_ms);
  SetLogLevel(spdlog::level::from_str(log_level));

  std::unique_ptr<Broker> broker;
  Status s = Broker::Open(config, &broker);
  if (!s.ok()) {
    spdlog::get("broker")->critical("{}", s.message());
    return 1;
  }
  std::signal(SIGPIPE, SIG_IGN);
  {
    // The signal set lives on the broker's io_context: it must go before the broker does.
    asio::signal_set signals(broker->io(), SIGINT, SIGTERM);
    signals.async_wait([&](std::error_code ec, int signo) {
      if (ec) return;
      spdlog::get("broker")->info("signal {}: stopping", signo);
      broker->Stop();
    });
    broker->Run();
  }
  broker.reset();
  return 0;
}
