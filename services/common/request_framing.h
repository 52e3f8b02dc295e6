#pragma once
// Which body a request has, decided from its headers alone, before a byte of
// the body is read. Only one framing is accepted: a single, plain
// Content-Length (or none, which means no body). Transfer-Encoding is refused:
// with Content-Length it is the request-smuggling ambiguity (a proxy in front
// may frame the body one way and we the other), and on its own a chunked body
// has no length to check against the limit up front.

#include <cstdint>
#include <optional>
#include <string>

#include <httplib.h>

namespace herald::services {

struct FramingError {
  int status;         // 400, 411 or 413
  std::string code;   // the JSON error's "code"
  std::string message;
};

struct Framing {
  uint64_t body_bytes = 0;             // the body's length when accepted
  std::optional<FramingError> error;   // set: refuse the request, read no body
};

Framing CheckFraming(const httplib::Headers& headers, std::size_t max_body_bytes);

}  // namespace herald::services
