#pragma once
// The little HTTP/1.1 the metrics endpoint speaks: parsing a request head and
// writing a response. No sockets here, so both are tested as plain functions.

#include <optional>
#include <string>
#include <string_view>

namespace herald::broker::metrics {

struct HttpRequestHead {
  std::string method;  // as sent; methods are case-sensitive
  std::string path;    // the target without its ?query
};

// Parses everything up to and including the blank line:
//   METHOD SP /target SP HTTP/1.x CRLF *(field-name ":" value CRLF) CRLF
// Returns nullopt for anything else (bare LF, control bytes, a target that is
// not origin-form, folded header lines): the endpoint answers 400. Header
// values are checked but not kept; the endpoint needs none of them.
std::optional<HttpRequestHead> ParseRequestHead(std::string_view head);

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::string extra_headers;  // complete lines, each ending in \r\n (e.g. "Allow: GET\r\n")
};

// Status line, Content-Type, Content-Length, Connection: close, then the body.
std::string SerializeResponse(const HttpResponse& response);

}  // namespace herald::broker::metrics
