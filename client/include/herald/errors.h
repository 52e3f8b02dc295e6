#pragma once
// Herald's error codes as std::error_code. Values 0..999 mirror the wire
// protocol's ErrorCode (schemas/herald.fbs) one to one and keep their numbers
// forever; values from 1000 are raised by the client itself.

#include <string>
#include <system_error>

namespace herald {

enum class errc {
  ok = 0,
  internal = 1,
  malformed_frame = 2,
  frame_too_large = 3,
  unsupported_version = 4,
  handshake_required = 5,
  invalid_argument = 6,
  invalid_topic_name = 7,
  topic_not_found = 8,
  payload_too_large = 9,
  subscription_not_found = 10,
  storage_error = 11,
  shutting_down = 12,
  invalid_group_name = 13,
  unexpected_message = 14,
  timed_out = 15,             // the broker closed a connection that stalled in a handshake or frame
  too_many_connections = 16,
  group_not_found = 17,
  group_busy = 18,            // the group has members
  authentication_failed = 19,  // the broker has auth on and refused the token (or its absence)
  not_authorized = 20,         // the principal's ACL does not allow this on this topic or group
  producer_id_in_use = 21,     // another live connection publishes with this client's producer id

  // Client-side conditions.
  not_connected = 1000,      // no broker connection within the time allowed
  timeout = 1001,            // the broker did not answer within the time allowed
  client_closed = 1002,      // the Client was destroyed or closed first
  buffer_full = 1003,        // too many bytes waiting to be published (ClientOptions)
  called_from_callback = 1004,  // a blocking call from a Herald callback would deadlock
  protocol_violation = 1005,    // the broker sent something this client cannot read
  not_supported = 1006,         // the backend (ClientOptions::broker's scheme) cannot do this
  // TLS is off, a token is set and the broker is not on loopback: the token
  // was not sent (ClientOptions::allow_plaintext_token).
  plaintext_token_refused = 1007,
  // The broker URL names a backend this libherald was built without (nats://
  // with HERALD_WITH_NATS=OFF).
  backend_not_built = 1008,
};

const std::error_category& herald_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), herald_category()};
}

}  // namespace herald

template <>
struct std::is_error_code_enum<herald::errc> : std::true_type {};
