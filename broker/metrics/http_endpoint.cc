#include "broker/metrics/http_endpoint.h"

#include <optional>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/read_until.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "broker/metrics/http_message.h"
#include "schemas/names.h"

namespace herald::broker::metrics {

namespace {

constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);
constexpr std::string_view kExpositionType = "text/plain; version=0.0.4; charset=utf-8";

// The broker's "net" logger; unit tests that create no loggers get the default one.
std::shared_ptr<spdlog::logger> Log() {
  auto logger = spdlog::get("net");
  return logger ? logger : spdlog::default_logger();
}

void LogException(std::exception_ptr e, const char* what) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    Log()->error("metrics endpoint: {} failed: {}", what, ex.what());
  } catch (...) {
    Log()->error("metrics endpoint: {} failed", what);
  }
}

struct Connection {
  explicit Connection(asio::ip::tcp::socket s) : socket(std::move(s)), deadline(socket.get_executor()) {}
  void Close() {
    asio::error_code ec;
    socket.close(ec);
    deadline.cancel();
  }
  asio::ip::tcp::socket socket;
  asio::steady_timer deadline;  // closes the socket when the connection has lived too long
};

HttpResponse Text(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

}  // namespace

// Thread: the io_context's (single) thread, like the endpoint.
struct EndpointState {
  EndpointState(asio::io_context& io_in, MetricsEndpointOptions options_in)
      : io(io_in), options(options_in), acceptor(io_in) {}

  asio::io_context& io;
  MetricsEndpointOptions options;
  asio::ip::tcp::acceptor acceptor;
  MetricsEndpoint::RenderFn render;
  MetricsEndpoint::HealthFn healthy;
  bool stopped = false;
  std::size_t active = 0;  // connections being served
  std::vector<std::weak_ptr<Connection>> connections;  // for Stop()
};

namespace {

using State = EndpointState;

HttpResponse Route(State& state, const std::optional<HttpRequestHead>& request) {
  if (!request) return Text(400, "bad request\n");
  bool metrics = request->path == "/metrics";
  bool healthz = request->path == "/healthz";
  if (!metrics && !healthz) return Text(404, "not found\n");
  if (request->method != "GET") {
    HttpResponse r = Text(405, "method not allowed\n");
    r.extra_headers = "Allow: GET\r\n";
    return r;
  }
  // render() and healthy() belong to the broker: an exception from them is
  // its bug, but it must cost one scrape, not the I/O thread.
  try {
    if (healthz) return state.healthy() ? Text(200, "ok\n") : Text(503, "unhealthy\n");
    HttpResponse r = Text(200, state.render());
    r.content_type = std::string(kExpositionType);
    return r;
  } catch (const std::exception& e) {
    Log()->error("metrics endpoint: {} failed: {}", request->path, e.what());
    return Text(500, "internal error\n");
  }
}

asio::awaitable<void> Serve(std::shared_ptr<State> state, std::shared_ptr<Connection> conn) {
  conn->deadline.expires_after(state->options.connection_timeout);
  conn->deadline.async_wait([weak = std::weak_ptr<Connection>(conn)](std::error_code ec) {
    if (ec) return;  // cancelled: the connection finished in time
    if (auto c = weak.lock()) {
      asio::error_code ignored;
      c->socket.close(ignored);
    }
  });

  // The dynamic buffer's limit makes read_until stop with not_found once the
  // head is larger than max_head_bytes, so a client cannot make us buffer more.
  std::string head;
  auto [ec, n] = co_await asio::async_read_until(
      conn->socket, asio::dynamic_buffer(head, state->options.max_head_bytes), "\r\n\r\n", kNoThrow);
  if (state->stopped) co_return;
  HttpResponse response;
  if (!ec) {
    response = Route(*state, ParseRequestHead(std::string_view(head).substr(0, n)));
  } else if (ec == asio::error::not_found) {
    response = Text(431, "request head too large\n");
  } else if (ec == asio::error::eof && !head.empty()) {
    response = Text(400, "bad request\n");  // the client stopped sending mid-head
  } else {
    conn->Close();  // deadline, reset, or a client that connected and left
    co_return;
  }

  std::string bytes = SerializeResponse(response);
  auto [write_ec, written] = co_await asio::async_write(conn->socket, asio::buffer(bytes), kNoThrow);
  (void)written;
  if (!write_ec) {
    // Closing with unread request bytes (an oversized head, a body) would send
    // RST, and the client could lose the response it has not read yet. So:
    // half-close, then discard what the client still sends until it closes
    // or the deadline does.
    asio::error_code ignored;
    conn->socket.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
    char discard[1024];
    for (;;) {
      auto [read_ec, got] = co_await conn->socket.async_read_some(asio::buffer(discard), kNoThrow);
      (void)got;
      if (read_ec) break;
    }
  }
  conn->Close();
}

asio::awaitable<void> AcceptLoop(std::shared_ptr<State> state) {
  while (!state->stopped && state->acceptor.is_open()) {
    auto [ec, socket] = co_await state->acceptor.async_accept(kNoThrow);
    if (state->stopped) break;
    if (ec) {
      if (ec == asio::error::operation_aborted || !state->acceptor.is_open()) break;
      // Out of descriptors and the like: pause instead of spinning on the error.
      Log()->warn("metrics endpoint: accept failed: {}", ec.message());
      asio::steady_timer pause(state->io, std::chrono::milliseconds(100));
      co_await pause.async_wait(kNoThrow);
      continue;
    }
    if (state->active >= state->options.max_connections) {
      Log()->debug("metrics endpoint: {} connections open, closing a new one", state->active);
      asio::error_code ignored;
      socket.close(ignored);
      continue;
    }
    std::erase_if(state->connections, [](const auto& w) { return w.expired(); });
    auto conn = std::make_shared<Connection>(std::move(socket));
    state->connections.push_back(conn);
    ++state->active;
    asio::co_spawn(state->io, Serve(state, conn), [state](std::exception_ptr e) {
      --state->active;
      LogException(e, "connection");
    });
  }
}

}  // namespace

MetricsEndpoint::MetricsEndpoint(asio::io_context& io, MetricsEndpointOptions options)
    : state_(std::make_shared<EndpointState>(io, options)) {}

MetricsEndpoint::~MetricsEndpoint() { Stop(); }

Status MetricsEndpoint::Bind(const std::string& host_port) {
  std::string host;
  uint16_t port = 0;
  if (!wire::SplitHostPort(host_port, &host, &port)) {
    return {wire::ErrorCode::InvalidArgument, fmt::format("--metrics-listen '{}' is not HOST:PORT", host_port)};
  }
  asio::error_code ec;
  asio::ip::tcp::resolver resolver(state_->io);
  auto results = resolver.resolve(host, std::to_string(port), asio::ip::tcp::resolver::passive, ec);
  if (ec || results.empty()) {
    return {wire::ErrorCode::InvalidArgument,
            fmt::format("cannot resolve '{}': {}", host, ec ? ec.message() : "no address")};
  }
  asio::ip::tcp::endpoint endpoint = results.begin()->endpoint();
  auto& acceptor = state_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    asio::error_code ignored;
    acceptor.close(ignored);
    return {wire::ErrorCode::Internal, fmt::format("cannot listen on {} for metrics: {}", host_port, ec.message())};
  }
  return Status::Ok();
}

asio::ip::tcp::endpoint MetricsEndpoint::local_endpoint() const {
  asio::error_code ec;
  return state_->acceptor.local_endpoint(ec);
}

void MetricsEndpoint::Start(RenderFn render, HealthFn healthy) {
  state_->render = std::move(render);
  state_->healthy = std::move(healthy);
  asio::co_spawn(state_->io, AcceptLoop(state_),
                 [](std::exception_ptr e) { LogException(e, "accept loop"); });
}

void MetricsEndpoint::Stop() {
  if (state_->stopped) return;
  state_->stopped = true;
  asio::error_code ignored;
  state_->acceptor.close(ignored);
  for (auto& weak : state_->connections)
    if (auto c = weak.lock()) c->Close();
  state_->connections.clear();
  // What they capture (the broker's state) may go away after Stop().
  state_->render = nullptr;
  state_->healthy = nullptr;
}

}  // namespace herald::broker::metrics
