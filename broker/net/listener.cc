#include "broker/net/listener.h"

#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "broker/net/session.h"
#include "schemas/names.h"

namespace herald::broker {

Listener::Listener(BrokerContext& ctx) : ctx_(ctx), acceptor_(ctx.io) {}

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

asio::awaitable<void> Listener::AcceptLoop() {
  constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);
  while (acceptor_.is_open()) {
    auto [ec, socket] = co_await acceptor_.async_accept(kNoThrow);
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor_.is_open()) break;
      // Out of descriptors and the like: log, then keep serving the others.
      spdlog::get("net")->warn("accept failed: {}", ec.message());
      continue;
    }
    std::erase_if(sessions_, [](const auto& w) {
      auto s = w.lock();
      return !s || s->closed();
    });
    auto session = std::make_shared<Session>(std::move(socket), ctx_, next_session_id_++);
    bool over_limit = sessions_.size() >= ctx_.config.max_connections;
    sessions_.push_back(session);
    session->Start();
    if (over_limit) {
      session->Reject({wire::ErrorCode::TooManyConnections,
                       fmt::format("the broker is at its limit of {} connections", ctx_.config.max_connections)});
    }
  }
}

}  // namespace herald::broker
