#pragma once
// Engine: the broker an end-to-end case runs against, chosen by name: "herald"
// is a brokerd process (BrokerProcess), "nats" a 3-node NATS JetStream cluster
// (NatsCluster; the SDK makes streams with 3 replicas there). A case written
// once runs on each engine with
//
//   Engine engine(GENERATE(from_range(EngineKinds())));
//
// Offsets differ between the engines (brokerd counts from 0, a stream from 1):
// compare them relative to an offset the case saw. What does not map to
// JetStream (client/NATS.md) is errc::not_supported there.
//
// Links the SDK (herald), brokerd's harness and the NATS cluster's.

#include <memory>
#include <string>
#include <vector>

#include "herald/client.h"
#include "tests/support/nats_cluster.h"
#include "tests/support/server_process.h"

namespace herald::test {

// {"herald", "nats"}; the environment variable HERALD_TEST_ENGINES (a comma
// list of those names, e.g. "herald") narrows it for a quick local run. An
// unknown name throws std::invalid_argument.
std::vector<std::string> EngineKinds();

struct Engine {
  std::string kind;                       // "herald" or "nats"
  std::unique_ptr<BrokerProcess> broker;  // set for "herald"
  std::unique_ptr<NatsCluster> cluster;   // set for "nats"

  // Starts the engine (REQUIREs that it comes up). `brokerd_args` are extra
  // brokerd flags; the NATS cluster has no use for them.
  explicit Engine(std::string kind, std::vector<std::string> brokerd_args = {});

  bool nats() const { return cluster != nullptr; }
  // The SDK's broker URL: "herald://127.0.0.1:P" or "nats://127.0.0.1:P1,...".
  std::string url() const;
  // A client of the engine (options.broker is set to url()), connected;
  // REQUIREs that it connects within 10 s.
  std::unique_ptr<herald::Client> Connect(herald::ClientOptions options = {}) const;

  // A crash of the engine's (first) server: SIGKILL, no shutdown code runs.
  void KillOne();
  // A clean stop of the engine's (first) server: brokerd gets SIGTERM and must
  // exit with 0 (REQUIREd). NatsCluster stops a node only with SIGKILL, the
  // harder case, so on NATS this is KillOne().
  void StopOne();
  // Starts the server KillOne or StopOne stopped, on the same data (and port).
  void RestartOne();

  // The end of the server logs, for INFO on failure.
  std::string LogTail() const;
};

}  // namespace herald::test
