// The SDK's one conversion from the wire's ErrorCode to herald::errc
// (client/src/wire_errors.cc). That every pair keeps its number is checked at
// compile time there; these are the run-time answers.

#include <catch2/catch.hpp>

#include "client/src/wire_errors.h"
#include "herald/errors.h"

using herald::errc;
using herald::client_detail::ErrorFromWire;
namespace wire = herald::wire;

TEST_CASE("wire_errors: every wire code maps to the errc of the same number and category", "[unit][errors]") {
  for (wire::ErrorCode code : wire::EnumValuesErrorCode()) {
    std::error_code ec = ErrorFromWire(code);
    INFO(wire::EnumNameErrorCode(code));
    CHECK(ec.category() == herald::herald_category());
    CHECK(ec.value() == static_cast<int>(code));
  }
  CHECK(ErrorFromWire(wire::ErrorCode::TopicNotFound) == errc::topic_not_found);
  CHECK(ErrorFromWire(wire::ErrorCode::ProducerIdInUse) == errc::producer_id_in_use);
  CHECK_FALSE(ErrorFromWire(wire::ErrorCode::Ok));
}

TEST_CASE("wire_errors: a code this SDK does not know is a protocol violation", "[unit][errors]") {
  const auto unknown = static_cast<wire::ErrorCode>(static_cast<int>(wire::ErrorCode::MAX) + 1);
  CHECK(ErrorFromWire(unknown) == errc::protocol_violation);
  CHECK(ErrorFromWire(static_cast<wire::ErrorCode>(999)) == errc::protocol_violation);
}
