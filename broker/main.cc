// brokerd: the Herald broker daemon. Flags (and --config FILE) -> BrokerConfig,
// then Broker::Run until SIGINT or SIGTERM. SIGHUP reloads the principals and TLS files.
//
// Exit codes: 0 after a clean stop (or --help, --version, --print-config),
// 1 if the broker cannot start, 2 for bad flags or a bad config file.

#include <malloc.h>

#include <csignal>
#include <cstdio>
#include <functional>
#include <iostream>
#include <limits>

#include <CLI/CLI.hpp>
#include <asio/signal_set.hpp>
#include <spdlog/spdlog.h>

#include "broker/broker.h"
#include "broker/fd_limit.h"
#include "broker/logging.h"
#include "broker/version.h"
#include "schemas/unit_flags.h"
#include "schemas/units.h"

namespace herald::broker {
namespace {

constexpr int kUsageError = 2;
constexpr std::size_t kMaxBackoffSteps = 64;  // as many as a stored group position keeps

// Flags whose text is converted after parsing.
struct TextFlags {
  std::string fsync = "always";
  std::string log_level = "info";
  std::string log_format = "text";
  std::vector<std::string> backoff;
  uint32_t window = 0;
  uint32_t debug_read_delay_ms = 0;
};

using std::chrono::milliseconds;
constexpr uint64_t kMiB = 1ull << 20;

// The --*-ms flags read a bare number as milliseconds; the others want a unit
// (a bare 0 is zero in any unit).
constexpr wire::DurationLimits InMs(milliseconds min, milliseconds max) {
  return {.bare_unit = milliseconds(1), .min = min, .max = max};
}
constexpr wire::DurationLimits WithUnit(milliseconds min) { return {.bare_unit = milliseconds(0), .min = min}; }

// One step of --default-backoff; the wire carries each step as u32 milliseconds.
const CLI::Validator kBackoffStep(
    [](std::string& text) -> std::string {
      if (text.empty()) return {};  // --default-backoff "" means none
      return wire::CheckDurationFlag(
          text, {.bare_unit = milliseconds(0), .max = milliseconds(std::numeric_limits<uint32_t>::max())});
    },
    "DURATION");

void AddFlags(CLI::App& app, BrokerConfig& config, TextFlags& t) {
  app.add_option("--listen", config.listen, "HOST:PORT to listen on; port 0 picks a free port")
      ->capture_default_str();
  app.add_option("--data-dir", config.data_dir, "directory of the RocksDB database")->capture_default_str();
  wire::AddSizeFlag(app, "--disk-reserve-bytes", &config.disk_reserve_bytes, {.max = 1024 * kMiB},
                    "kept free in the data dir and given up to start on a full disk; 0 = none");
  app.add_option("--fsync", t.fsync, "when the write-ahead log is fsynced before acks")
      ->check(CLI::IsMember({"always", "interval", "never"}))
      ->capture_default_str();
  wire::AddDurationFlag(app, "--fsync-interval-ms", &config.fsync_interval, InMs(milliseconds(1), std::chrono::minutes(1)),
                        "period of --fsync interval");
  app.add_option("--port-file", config.port_file, "write the bound port to this file")->capture_default_str();
  app.add_option("--log-level", t.log_level, "trace|debug|info|warn|error|critical|off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->capture_default_str();
  app.add_option("--log-format", t.log_format, "text, or json: one JSON object per line")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  wire::AddSizeFlag(app, "--max-frame-bytes", &config.max_frame_bytes, {.min = 1024, .max = 256 * kMiB},
                    "largest accepted frame");
  wire::AddSizeFlag(app, "--max-payload-bytes", &config.max_payload_bytes, {.min = 1, .max = 256 * kMiB},
                    "largest accepted payload");
  wire::AddSizeFlag(app, "--max-publish-bytes", &config.max_publish_bytes, {.min = 1024, .max = 256 * kMiB},
                    "largest Publish, decoded: keys, headers and payloads of all its messages");
  app.add_option("--max-publish-messages", config.max_publish_messages, "most messages in one Publish")
      ->check(CLI::Range(1u, 1'000'000u))
      ->capture_default_str();
  app.add_option("--default-window", t.window, "unacked messages per member unless it asks")
      ->check(CLI::Range(1u, 1'000'000u))
      ->capture_default_str();
  app.add_option("--max-window", config.groups.max_window,
                 "unacked messages per member at most, whatever it asks")
      ->check(CLI::Range(1u, 1'000'000u))
      ->capture_default_str();
  wire::AddSizeFlag(app, "--max-group-unacked-bytes", &config.groups.max_group_unacked_bytes,
                    {.min = 1024, .max = kMiB << 20},
                    "payload bytes a group's members may hold unacked (at least one message)");
  wire::AddSizeFlag(app, "--max-unacked-bytes", &config.groups.max_unacked_bytes, {.min = 1024, .max = kMiB << 20},
                    "payload bytes all groups together may hold unacked (each group at least one message)");
  wire::AddDurationFlag(app, "--default-ack-deadline-ms", &config.groups.default_ack_deadline,
                        InMs(milliseconds(10), std::chrono::hours(24)), "ack deadline unless a member asks");
  wire::AddDurationFlag(app, "--handshake-timeout-ms", &config.handshake_timeout,
                        InMs(milliseconds(10), std::chrono::hours(1)), "close connections without Hello after this");
  wire::AddDurationFlag(app, "--frame-timeout-ms", &config.frame_timeout, InMs(milliseconds(10), std::chrono::hours(1)),
                        "close connections that leave a frame half-sent this long");
  wire::AddDurationFlag(app, "--idle-timeout", &config.idle_timeout, WithUnit(milliseconds(0)),
                        "close connections without subscriptions that send nothing this long; 0 = never");
  app.add_option("--max-connections", config.max_connections, "refuse connections past Hello above this many")
      ->check(CLI::Range(1u, 1'000'000u))
      ->capture_default_str();
  app.add_option("--max-pending-connections", config.max_pending_connections,
                 "connections that have not sent Hello yet; above this many the oldest is closed")
      ->check(CLI::Range(1u, 1'000'000u))
      ->capture_default_str();
  wire::AddDurationFlag(
      app, "--default-retention-age",
      [&config](milliseconds d) { config.default_retention.max_age_ms = static_cast<uint64_t>(d.count()); },
      milliseconds(config.default_retention.max_age_ms), WithUnit(milliseconds(0)),
      "topics created without retention drop messages older than this; 0 = no limit");
  wire::AddSizeFlag(app, "--default-retention-bytes", &config.default_retention.max_bytes, {},
                    "... and keep at most this many stored bytes per topic; 0 = no limit");
  app.add_option("--default-retention-messages", config.default_retention.max_messages,
                 "... and at most this many messages per topic; 0 = no limit")
      ->capture_default_str();
  wire::AddDurationFlag(app, "--retention-interval", &config.retention_interval, WithUnit(milliseconds(1)),
                        "how often retention limits are enforced");
  app.add_option("--default-max-deliveries", config.groups.default_max_deliveries,
                 "deliveries of a message before a new group dead-letters it")
      ->check(CLI::Range(1u, 1'000'000u))
      ->capture_default_str();
  app.add_option("--default-backoff", t.backoff,
                 "a new group's redelivery delays, e.g. 1s,5s,30s (the last repeats); empty = at once")
      ->delimiter(',')
      ->check(kBackoffStep)
      ->default_str("");
  app.add_option("--auth-file", config.auth_file,
                 "principals file: token hashes and ACLs; empty = no auth (see README, Security)")
      ->capture_default_str();
  app.add_option("--tls-cert", config.tls_cert, "TLS certificate chain (PEM); with --tls-key, TLS on")
      ->capture_default_str();
  app.add_option("--tls-key", config.tls_key, "TLS private key (PEM)")->capture_default_str();
  app.add_option("--metrics-listen", config.metrics_listen,
                 "HOST:PORT for HTTP GET /metrics and /healthz; empty = off")
      ->capture_default_str();
  // For tests only: hidden from --help and from config files.
  app.add_option("--debug-read-delay-ms", t.debug_read_delay_ms,
                 "TESTS ONLY: delay every read of the store by this many ms")
      ->check(CLI::Range(0u, 60'000u))
      ->group("")
      ->configurable(false);
}

// Text flags -> config. REQUIRES: the validators above accepted every value.
void ApplyTextFlags(const TextFlags& t, BrokerConfig& config) {
  config.fsync = t.fsync == "always" ? FsyncPolicy::kAlways
                 : t.fsync == "interval" ? FsyncPolicy::kInterval
                                         : FsyncPolicy::kNever;
  config.groups.default_window = t.window;
  config.debug_read_delay = milliseconds(t.debug_read_delay_ms);
  config.groups.default_backoff.clear();
  for (const auto& step : t.backoff)
    if (!step.empty()) config.groups.default_backoff.push_back(*wire::ParseDuration(step));
}

// The settings in effect, as a config file --config accepts: one `key = value`
// line per configurable flag, quoted the way CLI11 reads it back.
std::string EffectiveConfig(const CLI::App& app) {
  std::string out = "# brokerd " + std::string(kBrokerVersion) + ": effective settings\n";
  for (const CLI::Option* opt : app.get_options()) {
    if (!opt->get_configurable() || opt->get_lnames().empty()) continue;
    std::vector<std::string> values = opt->count() > 0 ? opt->reduced_results()
                                                        : std::vector<std::string>{opt->get_default_str()};
    if (values.empty()) values.emplace_back();
    out += opt->get_single_name() + " = " + CLI::detail::ini_join(values) + "\n";
  }
  return out;
}

// CLI11 reports an unknown key as "INI was not able to parse KEY" (and a
// [section] as "SECTION.++"): say which file, which key, and where keys come from.
std::string ConfigErrorMessage(const CLI::App& app, const CLI::ConfigError& e) {
  std::string file = app.get_config_ptr()->as<std::string>();
  std::string what = e.what();
  constexpr std::string_view kExtra = "INI was not able to parse ";
  if (what.rfind(kExtra, 0) != 0) return "--config " + file + ": " + what;
  std::string key = what.substr(kExtra.size());
  for (std::string_view marker : {".++", ".--"})
    if (key.size() > marker.size() && key.compare(key.size() - marker.size(), marker.size(), marker) == 0)
      key.resize(key.size() - marker.size());
  return "--config " + file + ": unknown key '" + key +
         "' (keys are long flag names without dashes; brokerd --print-config lists them)";
}

}  // namespace
}  // namespace herald::broker

int main(int argc, char** argv) {
  using namespace herald::broker;
  // Two malloc arenas instead of one per thread: batches are allocated on the
  // I/O thread and freed on the storage thread (and RocksDB has threads of its
  // own), and with an arena per thread the memory freed in one is not reused
  // by the others. Measured: peak RSS of the 1 KiB publish workload 75 -> 66 MiB.
  mallopt(M_ARENA_MAX, 2);
  BrokerConfig config;
  TextFlags text;
  text.window = config.groups.default_window;
  for (auto step : config.groups.default_backoff) text.backoff.push_back(herald::wire::FormatDuration(step));

  CLI::App app{"brokerd: the Herald message broker"};
  app.set_version_flag("--version", kBrokerVersion)->configurable(false);
  // Keys are the long flag names without dashes; a flag on the command line
  // beats the file. An unknown key is an error: a typo must not silently
  // leave a default in place.
  app.set_config("--config", "", "read settings from this TOML file (key = value)")->configurable(false);
  app.allow_config_extras(CLI::config_extras_mode::error);
  bool print_config = false;
  app.add_flag("--print-config", print_config, "print the effective settings as a config file and exit")
      ->configurable(false);
  AddFlags(app, config, text);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ConfigError& e) {
    std::fprintf(stderr, "%s\n", ConfigErrorMessage(app, e).c_str());
    return kUsageError;
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : kUsageError;
  }
  if (text.backoff.size() > kMaxBackoffSteps) {
    std::fprintf(stderr, "--default-backoff: at most %zu steps\n", kMaxBackoffSteps);
    return kUsageError;
  }
  if (print_config) {
    std::cout << EffectiveConfig(app) << std::flush;
    return 0;
  }
  ApplyTextFlags(text, config);
  SetLogLevel(spdlog::level::from_str(text.log_level));
  SetLogFormat(*ParseLogFormat(text.log_format));
  RaiseDescriptorLimit(DescriptorsNeeded(config));

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
    // SIGHUP: read the principals file and the TLS files again.
    asio::signal_set hangups(broker->io(), SIGHUP);
    std::function<void()> await_hangup = [&] {
      hangups.async_wait([&](std::error_code ec, int) {
        if (ec) return;
        spdlog::get("broker")->info("signal SIGHUP: reloading the principals and TLS files");
        broker->Reload();
        await_hangup();
      });
    };
    await_hangup();
    broker->Run();
  }
  broker.reset();
  return 0;
}
