#pragma once
// ConnectionStream: one accepted HTTP connection as an httplib::Stream, with
// a deadline and a byte budget for each part of a request. httplib's own
// stream times out each read separately, so a client that sends a byte every
// few seconds keeps a connection, and the thread serving it, forever; and it
// reads headers of any size. Here the request line and headers get one
// deadline and budget, and the body another: its length, so that httplib
// never reads past the request (a request without Content-Length has no body).
//
// Used by one thread at a time (HttpServer's, for the connection's lifetime).

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include <httplib.h>

#include "http_limits.h"

namespace herald::services {

class ConnectionStream final : public httplib::Stream {
 public:
  enum class Failure { kNone, kTimedOut, kHeadersTooLarge, kServerStopping };

  // `server_stopping` is asked every 100 ms while a read or write waits, so
  // that stopping the server does not wait out a slow client's deadlines.
  ConnectionStream(int fd, const HttpLimits& limits, std::function<bool()> server_stopping)
      : fd_(fd), limits_(limits), server_stopping_(std::move(server_stopping)) {}

  // Waits up to the idle timeout for the next request to start; false if it
  // did not, or the peer closed or failed.
  bool WaitForRequest();
  // The request line and headers: deadline and budget from the limits.
  void BeginHeaders();
  // The body: exactly `length` bytes more are read, within the body timeout.
  void BeginBody(uint64_t length);
  // True when the request was read to its end, so the next one can follow on
  // the same connection.
  bool AtRequestEnd() const { return phase_ == Phase::kBody && budget_ == 0; }
  // True once the peer has closed its side or the connection failed, as
  // seen without blocking. For a reply that streams for as long as the
  // client stays (server-sent events): its client never sends again, so
  // anything readable means it left.
  bool PeerClosed() const;
  // Why the last read failed, if it was a limit.
  Failure failure() const { return failure_; }
  // Closes the connection after a reply that left part of the request unread:
  // sends FIN, then discards what the client still sends (bounded in bytes and
  // time) so that closing does not reset the connection before the client has
  // read the reply.
  void LingeringClose();

  bool is_readable() const override;
  bool is_writable() const override;
  ssize_t read(char* ptr, size_t size) override;
  ssize_t write(const char* ptr, size_t size) override;
  void get_remote_ip_and_port(std::string& ip, int& port) const override;
  void get_local_ip_and_port(std::string& ip, int& port) const override;
  socket_t socket() const override { return fd_; }

 private:
  enum class Phase { kIdle, kHeaders, kBody };
  using Clock = std::chrono::steady_clock;

  // Polls for `events` until `deadline`; true if ready, false on timeout
  // (or when the server stops: *stopped is then set, if given).
  bool WaitFor(short events, Clock::time_point deadline, bool* stopped = nullptr) const;

  int fd_;
  HttpLimits limits_;
  std::function<bool()> server_stopping_;
  Phase phase_ = Phase::kIdle;
  Clock::time_point deadline_{};
  uint64_t budget_ = 0;  // bytes httplib may still read in this phase
  Failure failure_ = Failure::kNone;
  // Bytes received but not yet read: one recv takes what is there, and
  // httplib reads headers a byte at a time.
  std::array<char, 4096> buffer_{};
  std::size_t buffered_begin_ = 0, buffered_end_ = 0;
};

}  // namespace herald::services
