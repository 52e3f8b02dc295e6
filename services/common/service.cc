#include "service.h"

#include <csignal>
#include <ctime>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>

#include <pthread.h>
#include <spdlog/spdlog.h>

#include "schemas/durable_dir.h"
#include "schemas/names.h"
#include "schemas/unit_flags.h"
#include "schemas/units.h"

namespace herald::services {

namespace {
constexpr std::size_t kMaxBodyBytes = 64u << 10;
constexpr int kMaxJsonDepth = 16;

int JsonDepth(const json& j, int depth = 0) {
  if (depth > kMaxJsonDepth) return depth;
  int deepest = depth;
  if (j.is_object() || j.is_array()) {
    for (const auto& v : j) deepest = std::max(deepest, JsonDepth(v, depth + 1));
  }
  return deepest;
}
}  // namespace

void AddServiceFlags(CLI::App& app, ServiceFlags* flags) {
  app.add_option("--listen", flags->listen, "HOST:PORT for HTTP")->capture_default_str();
  app.add_option("--data-dir", flags->data_dir, "RocksDB directory of this service")->capture_default_str();
  app.add_option("--port-file", flags->port_file, "write the bound HTTP port to this file");
  AddBrokerFlags(app, flags);
  AddHttpFlags(app, &flags->http);
}

void AddBrokerFlags(CLI::App& app, ServiceFlags* flags) {
  app.add_option("--broker", flags->broker,
                 "brokerd as HOST:PORT or herald://HOST:PORT; a NATS JetStream cluster as "
                 "nats://HOST:PORT[,HOST:PORT...]")->capture_default_str();
  // No default shown for the token: --help must not print a secret.
  app.add_option("--broker-token", flags->broker_token,
                 "token for brokerd with auth on (default: env HERALD_TOKEN, which keeps it out of ps)");
  app.add_flag("--broker-tls", flags->broker_tls, "connect to brokerd with TLS (system CAs)");
  app.add_option("--broker-tls-ca", flags->broker_tls_ca,
                 "PEM file of the CAs that sign brokerd's certificate (implies --broker-tls)");
  app.add_flag("--broker-allow-plaintext-token", flags->broker_allow_plaintext_token,
               "send the token without TLS to a broker that is not on loopback (a trusted network)")
      ->envname("HERALD_ALLOW_PLAINTEXT_TOKEN");
}

void AddHttpFlags(CLI::App& app, HttpLimits* limits) {
  // Both flags have always counted milliseconds: a bare number still does.
  constexpr wire::DurationLimits kTimeout{.bare_unit = std::chrono::milliseconds(1),
                                          .min = std::chrono::milliseconds(1),
                                          .max = std::chrono::hours(1)};
  wire::AddDurationFlag(app, "--http-header-timeout-ms", &limits->header_timeout, kTimeout,
                        "an HTTP request's line and headers must arrive within this");
  wire::AddDurationFlag(app, "--http-body-timeout-ms", &limits->body_timeout, kTimeout,
                        "an HTTP request's body must arrive within this after its headers");
  app.add_option("--http-max-threads", limits->max_threads,
                 "HTTP connections served at once; more wait for a free thread")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{10'000}));
}

std::optional<int> ParseCommandLine(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return std::nullopt;
}

ClientOptions BrokerClientOptions(const ServiceFlags& flags, ClientOptions base) {
  base.broker = flags.broker;
  base.token = flags.broker_token;
  base.tls = flags.broker_tls || !flags.broker_tls_ca.empty();
  base.tls_ca_file = flags.broker_tls_ca;
  base.allow_plaintext_token = flags.broker_allow_plaintext_token;
  return base;
}

std::unique_ptr<rocksdb::DB> OpenDatabase(const std::string& dir) {
  // RocksDB makes the last component only, and does not fsync its parent:
  // the whole path is made here, each new entry synced, so that a power cut
  // cannot take the database's directory away with everything synced in it.
  if (int err = herald::CreateDirectoriesDurably(dir)) {
    std::fprintf(stderr, "cannot create data dir %s: %s\n", dir.c_str(), std::strerror(err));
    std::exit(1);
  }
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, dir, &db);
  if (!s.ok()) {
    std::fprintf(stderr, "cannot open %s: %s\n", dir.c_str(), s.ToString().c_str());
    std::exit(1);
  }
  return std::unique_ptr<rocksdb::DB>(db);
}

std::optional<json> ParseObject(const httplib::Request& req, httplib::Response& res) {
  if (req.body.size() > kMaxBodyBytes) {
    ReplyError(res, 413, "body_too_large", "request body above 64 KiB");
    return std::nullopt;
  }
  // ensure_ascii off and strict parsing: invalid UTF-8 is a parse error.
  json body = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded() || !body.is_object()) {
    ReplyError(res, 400, "bad_json", "the body must be a JSON object (valid UTF-8)");
    return std::nullopt;
  }
  if (JsonDepth(body) > kMaxJsonDepth) {
    ReplyError(res, 400, "bad_json", "JSON nested too deeply");
    return std::nullopt;
  }
  return body;
}

std::optional<std::string> RequireString(const json& body, const char* field, std::size_t max_len,
                                         httplib::Response& res) {
  auto it = body.find(field);
  if (it == body.end() || !it->is_string() || it->get_ref<const std::string&>().empty() ||
      it->get_ref<const std::string&>().size() > max_len) {
    ReplyError(res, 400, "bad_field",
               std::string("'") + field + "' must be a string of 1.." + std::to_string(max_len) + " bytes");
    return std::nullopt;
  }
  return it->get<std::string>();
}

bool IsValidId(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  return true;
}

std::string NewId() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng()));
  return buf;
}

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

int64_t NowMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string Rfc3339(int64_t ms) { return wire::FormatRfc3339(ms); }

std::thread RetryInBackground(std::string what, std::function<bool()> step, const std::atomic<bool>* stop) {
  return std::thread([what = std::move(what), step = std::move(step), stop] {
    while (!stop->load()) {
      if (step()) return;
      spdlog::warn("{}: not yet, retrying", what);
      for (int i = 0; i < 10 && !stop->load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
}

void AddHealthz(httplib::Server& server, const std::string& name) {
  server.Get("/healthz", [name](const httplib::Request&, httplib::Response& res) {
    ReplyJson(res, 200, {{"status", "ok"}, {"service", name}});
  });
}

void BlockStopSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
}

int Serve(HttpServer& server, const std::string& listen, const std::string& name,
          const std::string& port_file) {
  std::string host;
  uint16_t port = 0;
  if (!wire::SplitHostPort(listen, &host, &port)) {
    std::fprintf(stderr, "%s: --listen '%s' is not HOST:PORT\n", name.c_str(), listen.c_str());
    return 2;
  }
  // SIGINT/SIGTERM are taken by a thread of their own, which stops the server
  // (main() blocked them before starting any thread: BlockStopSignals()).
  BlockStopSignals();
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  std::thread waiter([&server, signals] {
    int sig = 0;
    sigwait(&signals, &sig);
    server.stop();
  });
  waiter.detach();
  int bound = server.Bind(host, port);
  if (bound < 0) {
    std::fprintf(stderr, "%s: cannot listen on %s\n", name.c_str(), listen.c_str());
    return 1;
  }
  if (!port_file.empty()) {
    std::string tmp = port_file + ".tmp";
    if (FILE* f = std::fopen(tmp.c_str(), "w")) {
      std::fprintf(f, "%d\n", bound);
      std::fclose(f);
      std::rename(tmp.c_str(), port_file.c_str());
    }
  }
  spdlog::info("{} listening on {}:{}", name, host, bound);
  server.listen_after_bind();
  spdlog::info("{} stopped", name);
  return 0;
}

}  // namespace herald::services
