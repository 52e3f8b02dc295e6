#pragma once
// HttpServer: the httplib::Server every service runs, hardened against what
// httplib 0.11.4 lets a client do by itself:
// - hold a thread for ever by sending slowly (each read has its own timeout),
//   and fill its fixed pool of 8 threads with 8 such clients;
// - smuggle a request with Transfer-Encoding and Content-Length (httplib
//   reads the chunked body and ignores the length);
// - wait 5 s for a 413 (httplib reads and discards the whole oversized body
//   first);
// - send headers of any size (a line's length is checked once it is whole);
// - keep a POST without Content-Length reading until the client closes.
// It overrides httplib's per-connection loop (process_and_close_socket, a
// virtual httplib's SSLServer overrides the same way) to read through a
// ConnectionStream, decide each request's framing from its headers before
// the body, and close a connection whose request was not read to its end.
// Every reply carries the security headers: nosniff, DENY framing, no
// referrer and kContentSecurityPolicy.

#include <cstdint>
#include <string>

#include <httplib.h>

#include "http_limits.h"

namespace herald::services {

class HttpServer : public httplib::Server {
 public:
  explicit HttpServer(HttpLimits limits = {});

  const HttpLimits& limits() const { return limits_; }

  // For a handler's content provider, on the thread serving its connection:
  // whether the client has gone (ConnectionStream::PeerClosed).
  static bool CurrentPeerClosed();

  // Binds host:port (port 0: one the kernel picks) and listens with a backlog
  // of kListenBacklog; returns the bound port, or -1.
  int Bind(const std::string& host, uint16_t port);

 private:
  bool process_and_close_socket(socket_t sock) override;
  // Unknown routes, refused framing, timeouts and limits as JSON errors.
  void ReplyErrorForStatus(httplib::Response& res) const;

  HttpLimits limits_;
};

// httplib listens with a backlog of 5: a burst of a few connections while its
// accept thread waits for a core overflowed it, and each dropped SYN cost
// its client a 1 s retransmit.
inline constexpr int kListenBacklog = 1024;

// The Content-Security-Policy of every reply: the gateway's main page loads
// its script and style from the gateway itself and talks only to it; nothing
// may frame a page.
inline constexpr const char* kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

}  // namespace herald::services
