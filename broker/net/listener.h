#pragma once
// Listener: the accept loop. Each accepted socket becomes a Session; the
// listener keeps weak references so the broker can stop them all.
//
// Two limits, so that unauthenticated sockets cannot lock clients out:
// connections that have completed Hello count against --max-connections;
// those that have not (pending) against the smaller --max-pending-connections.
// When the pending ones are at their limit, a new connection closes the
// OLDEST pending one rather than being refused: under a flood of sockets
// that never send Hello, a real client then only needs its Hello to arrive
// before max-pending newer connections do, instead of winning a race for a
// free slot against sockets that sit out the whole handshake timeout.
//
// Out of file descriptors (EMFILE, ENFILE), accept fails until one is closed;
// the loop then waits a little before trying again, instead of spinning.
//
// Thread: the broker's I/O thread.

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include "broker/state/broker_context.h"
#include "broker/state/connection_counts.h"
#include "broker/status.h"

namespace herald::broker {

class Session;

class Listener final : public ConnectionCounts {
 public:
  explicit Listener(BrokerContext& ctx);

  // Binds and listens on HOST:PORT ("[::1]:0" for IPv6; port 0 picks one).
  Status Bind(const std::string& host_port);
  asio::ip::tcp::endpoint local_endpoint() const;

  void Start();
  void Stop();
  void ForEachSession(const std::function<void(Session&)>& fn);
  uint32_t OpenSessions() const override;
  uint32_t AuthenticatedSessions() const override;
  uint32_t PendingSessions() const override;

 private:
  asio::awaitable<void> AcceptLoop();
  // Logs a failed accept, at most once a second (with how many were not logged).
  void LogAcceptFailure(const std::error_code& ec);
  void Admit(std::shared_ptr<Session> session);

  BrokerContext& ctx_;
  asio::ip::tcp::acceptor acceptor_;
  asio::steady_timer backoff_;
  std::vector<std::weak_ptr<Session>> sessions_;
  std::deque<std::weak_ptr<Session>> pending_;  // in accept order: the oldest first
  uint64_t next_session_id_ = 1;
  std::chrono::steady_clock::time_point last_failure_log_{};
  uint64_t unlogged_failures_ = 0;
};

}  // namespace herald::broker
