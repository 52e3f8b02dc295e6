#pragma once
// How long and how much an HTTP client of a service may take, with the
// defaults the services run with (flags in service.h: AddHttpFlags).

#include <chrono>
#include <cstddef>

namespace herald::services {

struct HttpLimits {
  // The whole request line and headers must arrive within this time, counted
  // from the request's first byte: a client that sends one byte a second
  // cannot hold a connection (and its thread) longer. 408 after it.
  std::chrono::milliseconds header_timeout{5000};
  // The whole body (Content-Length bytes) must arrive within this time after
  // the headers. 408 after it.
  std::chrono::milliseconds body_timeout{10000};
  // A kept-alive connection waits this long for its next request.
  std::chrono::milliseconds idle_timeout{1000};
  // Each write of the reply must make progress within this time.
  std::chrono::milliseconds write_timeout{5000};
  // Request line plus headers; more is 431.
  std::size_t max_header_bytes = 32u << 10;
  // Content-Length above this is 413, answered before any body byte is read.
  std::size_t max_body_bytes = 64u << 10;
  // Connections served at once, one thread each; more wait for a free thread.
  std::size_t max_threads = 128;
};

}  // namespace herald::services
