#include "broker/metrics/http_message.h"

#include <fmt/format.h>

namespace herald::broker::metrics {

namespace {

// RFC 9110 tchar: what method and header names are made of.
bool IsTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!IsTokenChar(c)) return false;
  return true;
}

// Visible ASCII and obs-text; no controls, no spaces.
bool IsTargetChar(char c) {
  auto u = static_cast<unsigned char>(c);
  return u > 0x20 && u != 0x7f;
}

bool IsFieldValueChar(char c) {
  auto u = static_cast<unsigned char>(c);
  return u == '\t' || (u >= 0x20 && u != 0x7f);
}

bool ParseRequestLine(std::string_view line, HttpRequestHead* out) {
  auto sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) return false;
  auto sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return false;
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (!IsToken(method)) return false;
  if (target.empty() || target.front() != '/') return false;
  for (char c : target)
    if (!IsTargetChar(c)) return false;
  if (version.size() != 8 || version.substr(0, 7) != "HTTP/1." || version[7] < '0' || version[7] > '9')
    return false;
  out->method = std::string(method);
  out->path = std::string(target.substr(0, target.find('?')));
  return true;
}

bool IsHeaderLine(std::string_view line) {
  auto colon = line.find(':');
  if (colon == std::string_view::npos) return false;
  // A leading space or tab would be obsolete line folding; a space before the
  // colon is forbidden outright (request smuggling).
  if (!IsToken(line.substr(0, colon))) return false;
  for (char c : line.substr(colon + 1))
    if (!IsFieldValueChar(c)) return false;
  return true;
}

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
  }
}

}  // namespace

std::optional<HttpRequestHead> ParseRequestHead(std::string_view head) {
  constexpr std::string_view kCrlf = "\r\n";
  if (head.size() < 4 || head.substr(head.size() - 4) != "\r\n\r\n") return std::nullopt;
  head.remove_suffix(2);  // every line, the last included, now ends in CRLF
  HttpRequestHead out;
  bool first = true;
  while (!head.empty()) {
    auto end = head.find(kCrlf);
    std::string_view line = head.substr(0, end);
    head.remove_prefix(end + kCrlf.size());
    // A bare CR or LF inside a line means the client and we would disagree about framing.
    if (line.find_first_of("\r\n") != std::string_view::npos) return std::nullopt;
    if (first) {
      if (!ParseRequestLine(line, &out)) return std::nullopt;
      first = false;
    } else if (!IsHeaderLine(line)) {
      return std::nullopt;
    }
  }
  if (first) return std::nullopt;
  return out;
}

std::string SerializeResponse(const HttpResponse& r) {
  return fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{}Connection: close\r\n\r\n{}",
      r.status, ReasonPhrase(r.status), r.content_type, r.body.size(), r.extra_headers, r.body);
}

}  // namespace herald::broker::metrics
