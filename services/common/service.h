#pragma once
// What every example service shares: flags, the RocksDB it keeps its state
// in, the HTTP server with JSON replies, and background start-up of its
// broker topics and subscriptions (so HTTP serves while the broker is away).

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <rocksdb/db.h>

#include "herald/client.h"
#include "http_limits.h"
#include "http_server.h"
#include "json_reply.h"

namespace herald::services {

using nlohmann::json;

struct ServiceFlags {
  std::string listen;
  std::string data_dir;
  std::string broker = "127.0.0.1:7400";
  std::string port_file;  // written with the bound HTTP port (tests use port 0)
  std::string broker_token;  // empty: the SDK reads $HERALD_TOKEN
  bool broker_tls = false;   // --broker-tls-ca implies it
  std::string broker_tls_ca;
  bool broker_allow_plaintext_token = false;  // ClientOptions::allow_plaintext_token
  HttpLimits http;
};

// Adds --listen, --data-dir and --port-file with the given defaults,
// AddBrokerFlags and AddHttpFlags.
void AddServiceFlags(CLI::App& app, ServiceFlags* flags);
// Adds --broker, --broker-token, --broker-tls, --broker-tls-ca and
// --broker-allow-plaintext-token.
void AddBrokerFlags(CLI::App& app, ServiceFlags* flags);
// Adds --http-header-timeout-ms, --http-body-timeout-ms and --http-max-threads.
void AddHttpFlags(CLI::App& app, HttpLimits* limits);

// Parses the command line. nullopt: go on; otherwise exit with the value: 0
// after --help, 2 (and CLI11's message) for a bad command line, as brokerd
// and brokerctl do (CLI11's own codes are 100 and up).
std::optional<int> ParseCommandLine(CLI::App& app, int argc, char** argv);

// The service's broker client options: `base` (its client name and timeouts)
// with the broker's address, token and TLS settings taken from the flags.
ClientOptions BrokerClientOptions(const ServiceFlags& flags, ClientOptions base);

// Opens the service's RocksDB, creating it and the directories above it;
// exits the process with a message if it cannot.
std::unique_ptr<rocksdb::DB> OpenDatabase(const std::string& dir);

// Parses a JSON object body, or replies 400/413/415 and returns nullopt.
std::optional<json> ParseObject(const httplib::Request& req, httplib::Response& res);
// A required string field of 1..max_len bytes, or replies 400 and returns nullopt.
std::optional<std::string> RequireString(const json& body, const char* field, std::size_t max_len,
                                         httplib::Response& res);

// The header a DELETE of a comment carries its delete token in (the gateway
// relays it to the comment-service).
inline constexpr const char* kDeleteTokenHeader = "X-Delete-Token";

// Ids: [A-Za-z0-9_-]{1,64}.
bool IsValidId(const std::string& id);
std::string NewId();
// Lowercase hex of each byte: "bob/" -> "626f622f".
std::string Hex(std::string_view bytes);
int64_t NowMs();
// RFC 3339 UTC with milliseconds, e.g. 2026-11-24T20:57:57.502Z.
std::string Rfc3339(int64_t ms);

// Runs `step` on a thread until it returns true, retrying every second, so a
// service can start while the broker is down. Stops when *stop is set.
std::thread RetryInBackground(std::string what, std::function<bool()> step, const std::atomic<bool>* stop);

// Blocks SIGINT and SIGTERM in the calling thread, so every thread started
// after it (RocksDB's, the Client's, the Outbox relay) inherits the mask and
// Serve()'s signal thread is the one that takes them. Call it first in main():
// a thread that does not block them would die of the signal instead.
void BlockStopSignals();

// Serves `server` on `listen` until SIGINT/SIGTERM; returns the exit code.
// With a port file, the bound port is written there (atomically) once bound.
int Serve(HttpServer& server, const std::string& listen, const std::string& name,
          const std::string& port_file = "");

// Adds GET /healthz.
void AddHealthz(httplib::Server& server, const std::string& name);

}  // namespace herald::services
