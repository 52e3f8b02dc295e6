#pragma once
// The plaintext-token rule: with TLS off, a token travels only to this
// machine. Anyone on the path to another host could read a token sent in
// clear and then act as its principal, so the client refuses to send one
// there (errc::plaintext_token_refused) unless ClientOptions::
// allow_plaintext_token says plaintext is intended, the way libpq's sslmode
// and NATS's tls_required make that choice explicit rather than implied.
//
// The rule looks at the addresses the broker's host resolves to, not at its
// name: "localhost" passes only if it resolves to loopback, and a name is
// refused if any of its addresses is elsewhere. It is applied after the
// resolve and before any connect, so a refused token never leaves the machine
// and no connection is even attempted.

#include <string>
#include <vector>

#include <asio/ip/address.hpp>

#include "herald/client.h"

namespace herald::client_detail {

// 127.0.0.0/8, ::1, and IPv4-mapped ::ffff:127.x.y.z.
bool IsLoopback(const asio::ip::address& address);

// Whether the rule refuses to send a token to a broker at `addresses`:
// a token is set, TLS is off, plaintext is not allowed, and some address is
// not loopback (that one in *offender, for the message).
bool RefusesPlaintextToken(const ClientOptions& options, bool has_token,
                           const std::vector<asio::ip::address>& addresses,
                           asio::ip::address* offender = nullptr);

// For a library that resolves and connects by itself (NATS): resolves `host`
// now, blocking, and applies the rule. A host that does not resolve is
// refused too, since nothing shows it is loopback. The reason in *message.
bool RefusesPlaintextTokenTo(const ClientOptions& options, bool has_token, const std::string& host,
                             std::string* message);

// The error's explanation, for the log and for brokerctl.
std::string DescribePlaintextRefusal(const std::string& broker, const asio::ip::address& offender);

}  // namespace herald::client_detail
