#pragma once
// An SDK client for a broker under test. Header-only: the targets that use it
// link the SDK (herald) themselves; herald_test_support does not.

#include <chrono>
#include <memory>

#include <catch2/catch.hpp>

#include "herald/client.h"
#include "tests/support/server_process.h"

namespace herald::test {

// A client of `broker`, connected; REQUIREs that it connects within 10 s.
inline std::unique_ptr<herald::Client> Connect(const ServerProcess& broker) {
  auto c = std::make_unique<herald::Client>(herald::ClientOptions{.broker = broker.address()});
  REQUIRE_FALSE(c->WaitConnected(std::chrono::seconds(10)));
  return c;
}

}  // namespace herald::test
