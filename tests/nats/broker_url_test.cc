// ClientOptions::broker: which backend a URL selects (herald/broker_url.h).

#include <catch2/catch.hpp>

#include "herald/broker_url.h"
#include "herald/errors.h"

using herald::BackendKind;
using herald::BrokerUrl;
using herald::ParseBrokerUrl;

TEST_CASE("broker URL: bare HOST:PORT and herald:// select the Herald backend", "[unit][backend]") {
  BrokerUrl url;
  REQUIRE_FALSE(ParseBrokerUrl("127.0.0.1:7400", &url));
  CHECK(url.kind == BackendKind::herald);
  CHECK(url.address == "127.0.0.1:7400");
  REQUIRE_FALSE(ParseBrokerUrl("herald://[::1]:7400", &url));
  CHECK(url.kind == BackendKind::herald);
  CHECK(url.address == "[::1]:7400");
}

TEST_CASE("broker URL: nats:// lists one or more servers", "[unit][backend]") {
  BrokerUrl url;
  REQUIRE_FALSE(ParseBrokerUrl("nats://127.0.0.1:4222", &url));
  CHECK(url.kind == BackendKind::nats);
  CHECK(url.servers == std::vector<std::string>{"nats://127.0.0.1:4222"});
  REQUIRE_FALSE(ParseBrokerUrl("nats://a:1,b:2,nats://c:3", &url));
  CHECK(url.servers == std::vector<std::string>{"nats://a:1", "nats://b:2", "nats://c:3"});
  CHECK(ParseBrokerUrl("nats://", &url) == herald::errc::invalid_argument);
  CHECK(ParseBrokerUrl("nats://a:1,,b:2", &url) == herald::errc::invalid_argument);
}

TEST_CASE("errc::not_supported keeps its number and message", "[unit][backend]") {
  std::error_code ec = herald::errc::not_supported;
  CHECK(ec.value() == 1006);
  CHECK(ec.message() == "not supported by this backend");
}

// What a nats:// URL gets from a libherald built with HERALD_WITH_NATS=OFF
// (tools/check-sdk-consumers.sh runs such a build).
TEST_CASE("errc::backend_not_built keeps its number and names the build option", "[unit][backend]") {
  std::error_code ec = herald::errc::backend_not_built;
  CHECK(ec.value() == 1008);
  CHECK(ec.message().find("HERALD_WITH_NATS") != std::string::npos);
}
