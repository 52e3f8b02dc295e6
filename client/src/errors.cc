#include "herald/errors.h"

namespace herald {

namespace {

class HeraldCategory : public std::error_category {
 public:
  const char* name() const noexcept override { return "herald"; }
  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::ok: return "ok";
      case errc::internal: return "internal broker error";
      case errc::malformed_frame: return "malformed frame";
      case errc::frame_too_large: return "frame too large";
      case errc::unsupported_version: return "unsupported protocol version";
      case errc::handshake_required: return "handshake required";
      case errc::invalid_argument: return "invalid argument";
      case errc::invalid_topic_name: return "invalid topic name";
      case errc::topic_not_found: return "topic not found";
      case errc::payload_too_large: return "payload too large";
      case errc::subscription_not_found: return "subscription not found";
      case errc::storage_error: return "broker storage error";
      case errc::shutting_down: return "broker shutting down";
      case errc::invalid_group_name: return "invalid group name";
      case errc::unexpected_message: return "unexpected message";
      case errc::timed_out: return "broker closed a stalled connection";
      case errc::too_many_connections: return "broker at its connection limit";
      case errc::group_not_found: return "group not found";
      case errc::group_busy: return "group has members";
      case errc::authentication_failed: return "authentication failed";
      case errc::not_authorized: return "not authorized";
      case errc::producer_id_in_use: return "producer id in use by another connection";
      case errc::not_connected: return "not connected to the broker";
      case errc::timeout: return "timed out";
      case errc::client_closed: return "client closed";
      case errc::buffer_full: return "publish buffer full";
      case errc::called_from_callback: return "blocking call from a Herald callback";
      case errc::protocol_violation: return "protocol violation by the broker";
      case errc::not_supported: return "not supported by this backend";
      case errc::plaintext_token_refused:
        return "token not sent: TLS is off and the broker is not on loopback (use TLS, or allow a "
               "plaintext token)";
      case errc::backend_not_built:
        return "this libherald was built without the backend the broker URL names (nats:// needs "
               "HERALD_WITH_NATS=ON)";
    }
    return "unknown herald error " + std::to_string(value);
  }
};

}  // namespace

const std::error_category& herald_category() noexcept {
  static const HeraldCategory category;
  return category;
}

}  // namespace herald
