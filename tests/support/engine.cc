#include "tests/support/engine.h"

#include <chrono>
#include <cstdlib>
#include <sstream>
#include <stdexcept>

#include <catch2/catch.hpp>

namespace herald::test {

std::vector<std::string> EngineKinds() {
  const char* env = std::getenv("HERALD_TEST_ENGINES");
  if (env == nullptr || *env == '\0') return {"herald", "nats"};
  std::vector<std::string> kinds;
  std::stringstream list(env);
  for (std::string name; std::getline(list, name, ',');) {
    if (name.empty()) continue;
    if (name != "herald" && name != "nats") {
      throw std::invalid_argument("HERALD_TEST_ENGINES: unknown engine '" + name + "' (herald, nats)");
    }
    kinds.push_back(name);
  }
  if (kinds.empty()) throw std::invalid_argument("HERALD_TEST_ENGINES names no engine");
  return kinds;
}

Engine::Engine(std::string k, std::vector<std::string> brokerd_args) : kind(std::move(k)) {
  if (kind == "herald") {
    broker = std::make_unique<BrokerProcess>(std::move(brokerd_args));
  } else {
    REQUIRE(kind == "nats");
    cluster = std::make_unique<NatsCluster>();
  }
}

std::string Engine::url() const { return broker ? "herald://" + broker->address() : cluster->url(); }

std::unique_ptr<herald::Client> Engine::Connect(herald::ClientOptions options) const {
  options.broker = url();
  auto c = std::make_unique<herald::Client>(std::move(options));
  REQUIRE_FALSE(c->WaitConnected(std::chrono::seconds(10)));
  return c;
}

void Engine::KillOne() { broker ? broker->Kill() : cluster->Kill(0); }

void Engine::StopOne() {
  if (broker) {
    REQUIRE(broker->Stop() == 0);
  } else {
    cluster->Kill(0);
  }
}

void Engine::RestartOne() { broker ? broker->Restart() : cluster->Restart(0); }

std::string Engine::LogTail() const {
  if (broker) return broker->LogTail();
  std::string logs;
  for (int i = 0; i < NatsCluster::kNodes; ++i) {
    logs += "nats node " + std::to_string(i) + " log:\n" + cluster->LogTail(i, 1500) + "\n";
  }
  return logs;
}

}  // namespace herald::test
