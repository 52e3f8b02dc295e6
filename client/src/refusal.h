#pragma once
// Refusals: failures to connect that retrying soon will not fix — the broker
// refused the token, the TLS handshake failed (the certificate did not
// verify, the broker does not serve TLS), or TLS could not be set up (an
// unreadable CA file). The connection treats them apart from a broker that
// is merely away: it says so once, loudly, and fails requests at once rather
// than letting them wait for a connection that will not come.
//
// Here, not in connection.cc, so that OpenSSL's error category stays in one file.

#include <string>
#include <system_error>

#include "herald/client.h"

namespace herald::client_detail {

bool IsRefusal(std::error_code ec);

// What the connection knows about one refused attempt.
struct RefusalDetail {
  bool token_sent = false;
  std::string server_name;  // the name the broker's certificate was checked against
  std::string message;      // the broker's ErrorReply message, or why TLS set-up failed
};

// One log line: what was refused and what to check.
std::string DescribeRefusal(std::error_code ec, const ClientOptions& options,
                            const RefusalDetail& detail);

}  // namespace herald::client_detail
