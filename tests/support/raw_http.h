#pragma once
// RawHttp: a loopback socket that speaks HTTP/1.1 by hand, for tests that send
// what no HTTP client library would (a request with two framings, headers a
// byte at a time, a Content-Length without its body). Every read has a
// deadline; nothing blocks.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace herald::test {

struct RawHttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;                            // Content-Length bytes

  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? "" : it->second;
  }
};

class RawHttp {
 public:
  explicit RawHttp(uint16_t port);
  ~RawHttp();
  RawHttp(const RawHttp&) = delete;
  RawHttp& operator=(const RawHttp&) = delete;

  bool connected() const { return fd_ >= 0; }
  // Sends all of `bytes` (without blocking for longer than a few seconds);
  // false if the server closed or reset the connection.
  bool Send(std::string_view bytes);
  // One response (status line, headers, Content-Length body) within `timeout`, or nullopt.
  std::optional<RawHttpResponse> ReadResponse(std::chrono::milliseconds timeout);
  // True once the server has closed the connection (EOF or reset), reading
  // and dropping whatever it sent before; false if still open after `timeout`.
  bool ClosedByServer(std::chrono::milliseconds timeout);

 private:
  // Receives more into received_ until `deadline`; false on EOF, error or timeout.
  bool ReceiveMore(std::chrono::steady_clock::time_point deadline);

  int fd_ = -1;
  std::string received_;
};

}  // namespace herald::test
