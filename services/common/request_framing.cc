#include "request_framing.h"

#include <cctype>

namespace herald::services {

namespace {

// 1..19 ASCII digits: no sign, no spaces, no list ("5, 5"), and no overflow of uint64_t.
std::optional<uint64_t> ParseLength(const std::string& value) {
  if (value.empty() || value.size() > 19) return std::nullopt;
  uint64_t n = 0;
  for (char c : value) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return n;
}

Framing Refuse(int status, std::string code, std::string message) {
  return Framing{0, FramingError{status, std::move(code), std::move(message)}};
}

}  // namespace

Framing CheckFraming(const httplib::Headers& headers, std::size_t max_body_bytes) {
  const bool has_transfer_encoding = headers.count("Transfer-Encoding") > 0;
  const std::size_t lengths = headers.count("Content-Length");
  if (has_transfer_encoding && lengths > 0)
    return Refuse(400, "bad_framing", "Transfer-Encoding and Content-Length together");
  if (has_transfer_encoding)
    return Refuse(411, "length_required", "Transfer-Encoding is not accepted; send Content-Length");
  if (lengths == 0) return Framing{};  // a request without Content-Length has no body (RFC 9112 6.3)
  if (lengths > 1) return Refuse(400, "bad_framing", "more than one Content-Length");
  auto length = ParseLength(headers.find("Content-Length")->second);
  if (!length) return Refuse(400, "bad_framing", "Content-Length is not a number");
  if (*length > max_body_bytes)
    return Refuse(413, "body_too_large", "request body above " + std::to_string(max_body_bytes >> 10) + " KiB");
  return Framing{*length, std::nullopt};
}

}  // namespace herald::services
