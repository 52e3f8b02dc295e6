#include "broker/net/listener.h"

#include <cerrno>

#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "broker/net/session.h"
#include "schemas/names.h"

namespace herald::broker {

namespace {

constexpr auto kAcceptBackoff = std::chrono::milliseconds(100);
constexpr auto kFailureLogInterval = std::chrono::seconds(1);

// Accept failures that last until the process (or system) frees something.
// (asio's system category does not compare equal to std::errc: match errno.)
bool OutOfResources(const std::error_code& ec) {
  if (ec.category() != asio::error::get_system_category()) return false;
  const int e = ec.value();
  return e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM;
}

}  // namespace

Listener::Listener(BrokerContext& ctx) : ctx_(ctx), acceptor_(ctx.io), backoff_(ctx.io) {}

Status Listener::Bind(const std::string& host_port) {
  std::string host;
  uint16_t port = 0;
  if (!wire::SplitHostPort(host_port, &host, &port)) {
    return {wire::ErrorCode::InvalidArgument,
            fmt::format("--listen '{}' is not HOST:PORT", host_port)};
  }
  asio::error_code ec;
  asio::ip::tcp::resolver resolver(ctx_.io);
  auto results = resolver.resolve(host, std::to_string(port),
                                  asio::ip::tcp::resolver::passive, ec);
  if (ec || results.empty()) {
    return {wire::ErrorCode::InvalidArgument,
            fmt::format("cannot resolve '{}': {}", host, ec ? ec.message() : "no address")};
  }
  asio::ip::tcp::endpoint endpoint = results.begin()->endpoint();
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return {wire::ErrorCode::Internal,
            fmt::format("cannot listen on {}: {}", host_port, ec.message())};
  }
  return Status::Ok();
}

asio::ip::tcp::endpoint Listener::local_endpoint() const {
  asio::error_code ec;
  return acceptor_.local_endpoint(ec);
}

void Listener::Start() {
  asio::co_spawn(ctx_.io, AcceptLoop(), [](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::get("net")->critical("accept loop failed: {}", ex.what());
    }
  });
}

void Listener::Stop() {
  asio::error_code ec;
  acceptor_.close(ec);
  backoff_.cancel();
}

void Listener::ForEachSession(const std::function<void(Session&)>& fn) {
  for (auto& weak : sessions_)
    if (auto s = weak.lock()) fn(*s);
}

uint32_t Listener::OpenSessions() const {
  uint32_t open = 0;
  for (const auto& weak : sessions_)
    if (auto s = weak.lock(); s && !s->closed()) ++open;
  return open;
}

uint32_t Listener::AuthenticatedSessions() const {
  uint32_t authenticated = 0;
  for (const auto& weak : sessions_)
    if (auto s = weak.lock(); s && s->handshaken() && !s->closing()) ++authenticated;
  return authenticated;
}

uint32_t Listener::PendingSessions() const {
  uint32_t pending = 0;
  for (const auto& weak : pending_)
    if (auto s = weak.lock(); s && !s->handshaken() && !s->closing()) ++pending;
  return pending;
}

void Listener::LogAcceptFailure(const std::error_code& ec) {
  auto now = std::chrono::steady_clock::now();
  if (now - last_failure_log_ < kFailureLogInterval) {
    ++unlogged_failures_;
    return;
  }
  if (unlogged_failures_ > 0) {
    spdlog::get("net")->warn("accept failed: {} (and {} more failures in the last {} ms)", ec.message(),
                             unlogged_failures_,
                             std::chrono::duration_cast<std::chrono::milliseconds>(now - last_failure_log_).count());
  } else {
    spdlog::get("net")->warn("accept failed: {}", ec.message());
  }
  last_failure_log_ = now;
  unlogged_failures_ = 0;
}

void Listener::Admit(std::shared_ptr<Session> session) {
  uint32_t authenticated = 0;
  std::erase_if(sessions_, [&](const auto& w) {
    auto s = w.lock();
    if (!s || s->closed()) return true;
    if (s->handshaken() && !s->closing()) ++authenticated;
    return false;
  });
  std::erase_if(pending_, [](const auto& w) {
    auto s = w.lock();
    return !s || s->handshaken() || s->closing();
  });
  sessions_.push_back(session);
  session->Start();
  if (authenticated >= ctx_.config.max_connections) {
    session->Reject({wire::ErrorCode::TooManyConnections,
                     fmt::format("the broker is at its limit of {} connections", ctx_.config.max_connections)});
    return;
  }
  if (pending_.size() >= ctx_.config.max_pending_connections) {
    // The oldest has had the longest to send its Hello (see the header).
    if (auto oldest = pending_.front().lock()) {
      oldest->Reject({wire::ErrorCode::TooManyConnections,
                      fmt::format("more than {} connections are waiting for Hello; the oldest is closed",
                                  ctx_.config.max_pending_connections)});
    }
    pending_.pop_front();
  }
  pending_.push_back(std::move(session));
}

asio::awaitable<void> Listener::AcceptLoop() {
  constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);
  while (acceptor_.is_open()) {
    auto [ec, socket] = co_await acceptor_.async_accept(kNoThrow);
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor_.is_open()) break;
      LogAcceptFailure(ec);
      if (OutOfResources(ec)) {
        // The connection waits in the kernel's backlog. Retrying at once
        // would fail again at once (the socket stays readable): wait for a
        // session to close and give back its descriptor.
        backoff_.expires_after(kAcceptBackoff);
        co_await backoff_.async_wait(kNoThrow);
      }
      continue;
    }
    Admit(std::make_shared<Session>(std::move(socket), ctx_, next_session_id_++));
  }
}

}  // namespace herald::broker
