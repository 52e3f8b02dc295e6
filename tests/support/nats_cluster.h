#pragma once
// NatsCluster: a 3-node nats-server JetStream cluster on 127.0.0.1 for tests.
// Each node gets a client, a cluster-route and a monitoring port (picked free
// by the test before start), a config file and a JetStream store dir in one
// TempDir, and a log file whose tail is shown on failure. The constructor
// waits (bounded) until every node reports a JetStream meta leader and is
// healthy. Kill(i) is a SIGKILL; Restart(i) brings node i back on the same
// ports and store dir. The destructor stops every node by its pid.
//
// Needs /usr/sbin/nats-server (Debian's nats-server; HERALD_NATS_SERVER
// overrides the path).

#include <array>
#include <chrono>
#include <cstdint>
#include <string>

#include <sys/types.h>

#include "tests/support/temp_dir.h"

namespace herald::test {

class NatsCluster {
 public:
  static constexpr int kNodes = 3;

  // REQUIREs that the cluster comes up (bounded by `timeout`).
  explicit NatsCluster(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  ~NatsCluster();
  NatsCluster(const NatsCluster&) = delete;
  NatsCluster& operator=(const NatsCluster&) = delete;

  // "nats://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3" (libnats takes this list as is).
  std::string url() const;
  // One node's client URL.
  std::string node_url(int i) const;
  uint16_t client_port(int i) const { return nodes_[i].client_port; }
  uint16_t monitor_port(int i) const { return nodes_[i].monitor_port; }
  bool running(int i) const { return nodes_[i].pid > 0; }

  // SIGKILL node i and reap it: no shutdown code runs (a crash).
  void Kill(int i);
  // SIGSTOP / SIGCONT node i: paused, it keeps its ports, its store and its
  // place in the cluster but answers nothing (a hung node). Unlike Kill and
  // Restart, a node paused for seconds cannot lose its port to another
  // process's connection meanwhile (a CI run under ASan: a node restarted 5 s
  // after its SIGKILL failed with "address already in use").
  void Pause(int i);
  void Resume(int i);
  // Starts node i again (after Kill) on the same ports and store dir, and
  // waits (bounded) until every running node sees a meta leader. It does not
  // wait for /healthz: a restarted node's streams and consumers may take longer
  // to catch up than a test wants to wait; JetStream serves meanwhile. 60 s:
  // a CI run under ASan, beside other tests, saw a restarted node without a
  // meta leader after 30 s (2026-11-26).
  void Restart(int i, std::chrono::milliseconds timeout = std::chrono::seconds(60));
  // Whether every running node sees a JetStream meta leader (and, with
  // `healthy`, answers /healthz with 200: current with its streams and consumers).
  bool Ready(bool healthy = true) const;
  // GET http://127.0.0.1:<monitor port of node i><path>; "" if it fails.
  std::string Monitor(int i, const std::string& path) const;
  std::string LogTail(int i, std::size_t bytes = 3000) const;

 private:
  struct Node {
    uint16_t client_port = 0;
    uint16_t route_port = 0;
    uint16_t monitor_port = 0;
    std::string config;
    std::string log;
    pid_t pid = -1;
  };
  void Start(int i);
  bool NodeReady(int i, bool healthy) const;
  void WaitReady(std::chrono::milliseconds timeout, bool healthy);

  TempDir dir_;
  std::string binary_;
  std::array<Node, kNodes> nodes_;
};

}  // namespace herald::test
