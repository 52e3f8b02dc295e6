#pragma once
// The one conversion from the wire's ErrorCode (schemas/herald.fbs) to the
// SDK's herald::errc. Every ErrorReply the SDK reads goes through it, so an
// error code crosses from the protocol into the public API in one place.

#include <system_error>

#include "schemas/frame.h"

namespace herald::client_detail {

// A code this SDK does not know (a newer broker's) is errc::protocol_violation:
// the broker sent something this client cannot read.
std::error_code ErrorFromWire(wire::ErrorCode code);

}  // namespace herald::client_detail
