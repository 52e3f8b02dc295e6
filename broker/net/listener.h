#pragma once
// Listener: the accept loop. Each accepted socket becomes a Session; the
// listener keeps weak references so the broker can stop them all.
//
// Thread: the broker's I/O thread.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

#include "broker/net/broker_context.h"
#include "broker/status.h"

namespace herald::broker {

class Session;

class Listener {
 public:
  explicit Listener(BrokerContext& ctx);

  // Binds and listens on HOST:PORT ("[::1]:0" for IPv6; port 0 picks one).
  Status Bind(const std::string& host_port);
  asio::ip::tcp::endpoint local_endpoint() const;

  void Start();
  void Stop();
  void ForEachSession(const std::function<void(Session&)>& fn);
  uint32_t OpenSessions() const;

 private:
  asio::awaitable<void> AcceptLoop();

  BrokerContext& ctx_;
  asio::ip::tcp::acceptor acceptor_;
  std::vector<std::weak_ptr<Session>> sessions_;
  uint64_t next_session_id_ = 1;
};

}  // namespace herald::broker
