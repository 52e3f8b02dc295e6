#include "connection.h"

#include <asio/co_spawn.hpp>
#include <asio/connect.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <spdlog/spdlog.h>

#include "schemas/names.h"

namespace herald::client_detail {

namespace {

constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);
// The client trusts its broker more than the broker trusts clients, but still
// bounds what it will allocate for one frame.
constexpr uint32_t kMaxIncomingFrameBytes = 64u << 20;
constexpr auto kHandshakeTimeout = std::chrono::seconds(5);
constexpr std::size_t kMaxGatherFrames = 64;

void LogEscape(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    spdlog::error("herald client: connection coroutine failed: {}", ex.what());
  }
}

}  // namespace

Connection::Connection(asio::io_context& io, const ClientOptions& options,
                       ConnectionListener* listener)
    : io_(io),
      options_(options),
      listener_(listener),
      socket_(io),
      in_(kMaxIncomingFrameBytes),
      write_wake_(io),
      reconnect_wake_(io) {
  uint16_t port = 0;
  if (wire::SplitHostPort(options.broker, &host_, &port)) port_ = std::to_string(port);
}

void Connection::Start() { asio::co_spawn(io_, ConnectLoop(), LogEscape); }

void Connection::Stop() {
  if (stopped_) return;
  stopped_ = true;
  asio::error_code ec;
  socket_.close(ec);
  connected_ = false;
  write_wake_.cancel();
  reconnect_wake_.cancel();
  auto waiting = std::move(waiting_);
  waiting_.clear();
  for (auto& [id, w] : waiting) w.reply(make_error_code(errc::client_closed), nullptr);
}

void Connection::Request(uint64_t request_id, FrameBytes frame, ReplyFn reply,
                         Clock::time_point deadline, bool resend) {
  if (stopped_) {
    reply(make_error_code(errc::client_closed), nullptr);
    return;
  }
  auto [it, inserted] = waiting_.emplace(request_id, Waiting{frame, std::move(reply), deadline, resend});
  if (connected_) {
    it->second.sent = true;
    Write(std::move(frame));
  }
}

void Connection::SendOneWay(FrameBytes frame) {
  if (connected_) Write(std::move(frame));
}

void Connection::ExpireRequests(Clock::time_point now) {
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    if (it->second.deadline > now) {
      ++it;
      continue;
    }
    ReplyFn reply = std::move(it->second.reply);
    it = waiting_.erase(it);
    reply(make_error_code(errc::timeout), nullptr);
  }
}

void Connection::Write(FrameBytes frame) {
  out_.push_back(std::move(frame));
  if (out_.size() == 1) write_wake_.cancel();
}

asio::awaitable<void> Connection::ConnectLoop() {
  auto backoff = options_.reconnect_backoff_min;
  while (!stopped_) {
    std::error_code ec = co_await ConnectOnce();
    if (!ec && !stopped_) {
      backoff = options_.reconnect_backoff_min;
      connected_ = true;
      uint64_t generation = ++generation_;
      listener_->OnConnected();
      // Everything waiting goes out now, oldest request first.
      for (auto& [id, w] : waiting_) {
        if (!w.sent) {
          w.sent = true;
          Write(w.frame);
        }
      }
      asio::co_spawn(io_, WriteLoop(generation), LogEscape);
      co_await ReadLoop(generation);
      // Pause briefly even after a connection that worked, so a broker that
      // accepts and drops us at once is not hammered.
      reconnect_wake_.expires_after(options_.reconnect_backoff_min);
      co_await reconnect_wake_.async_wait(kNoThrow);
      continue;
    }
    if (stopped_) break;
    spdlog::debug("herald client: connect to {} failed: {}; retry in {} ms", options_.broker,
                  ec.message(), backoff.count());
    reconnect_wake_.expires_after(backoff);
    co_await reconnect_wake_.async_wait(kNoThrow);
    backoff = std::min(backoff * 2, options_.reconnect_backoff_max);
  }
}

asio::awaitable<std::error_code> Connection::ConnectOnce() {
  if (port_.empty()) co_return make_error_code(errc::invalid_argument);
  asio::ip::tcp::resolver resolver(io_);
  auto [rec, endpoints] = co_await resolver.async_resolve(host_, port_, kNoThrow);
  if (rec) co_return rec;
  socket_ = asio::ip::tcp::socket(io_);
  in_ = wire::FrameBuffer(kMaxIncomingFrameBytes);

  // One timer bounds connect plus handshake: it closes the socket if they hang.
  asio::steady_timer guard(io_);
  guard.expires_after(kHandshakeTimeout);
  bool done = false;
  guard.async_wait([this, &done](std::error_code ec) {
    if (!ec && !done) {
      asio::error_code ignored;
      socket_.close(ignored);
    }
  });
  auto finish = [&](std::error_code ec) {
    done = true;
    guard.cancel();
    return ec;
  };

  auto [cec, ep] = co_await asio::async_connect(socket_, endpoints, kNoThrow);
  if (cec) co_return finish(cec);
  asio::error_code ignored;
  socket_.set_option(asio::ip::tcp::no_delay(true), ignored);

  flatbuffers::FlatBufferBuilder fbb(128);
  auto name = fbb.CreateString(options_.client_name);
  auto hello = wire::FinishFrame(fbb, 0, wire::CreateHello(fbb, wire::kProtocolVersion, name));
  auto [wec, wn] = co_await asio::async_write(socket_, asio::buffer(hello.data(), hello.size()), kNoThrow);
  if (wec) co_return finish(wec);

  for (;;) {
    std::span<const uint8_t> body;  // the whole frame, prefix included
    uint32_t length = 0;
    auto result = in_.Next(&body, &length);
    if (result == wire::FrameBuffer::Result::kNeedMore) {
      auto space = in_.Space();
      auto [rec2, n] = co_await socket_.async_read_some(asio::buffer(space.data(), space.size()), kNoThrow);
      if (rec2) co_return finish(rec2);
      in_.Commit(n);
      continue;
    }
    const wire::Frame* frame = result == wire::FrameBuffer::Result::kFrame
                                   ? wire::VerifyFrame(body.data(), body.size())
                                   : nullptr;
    if (frame == nullptr) co_return finish(make_error_code(errc::protocol_violation));
    if (const auto* err = frame->body_as_ErrorReply()) {
      spdlog::warn("herald client: broker refused the handshake: {}",
                   err->message() ? err->message()->str() : "");
      co_return finish(make_error_code(static_cast<errc>(err->code())));
    }
    if (frame->body_as_HelloOk() == nullptr) co_return finish(make_error_code(errc::protocol_violation));
    co_return finish({});
  }
}

asio::awaitable<void> Connection::ReadLoop(uint64_t generation) {
  while (!stopped_ && generation == generation_) {
    std::span<const uint8_t> body;  // the whole frame, prefix included
    uint32_t length = 0;
    auto result = in_.Next(&body, &length);
    if (result == wire::FrameBuffer::Result::kNeedMore) {
      auto space = in_.Space();
      auto [ec, n] = co_await socket_.async_read_some(asio::buffer(space.data(), space.size()), kNoThrow);
      if (ec) {
        if (generation == generation_) Disconnect(ec);
        co_return;
      }
      in_.Commit(n);
      continue;
    }
    const wire::Frame* frame = result == wire::FrameBuffer::Result::kFrame
                                   ? wire::VerifyFrame(body.data(), body.size())
                                   : nullptr;
    if (frame == nullptr) {
      spdlog::error("herald client: unreadable frame from the broker; reconnecting");
      Disconnect(make_error_code(errc::protocol_violation));
      co_return;
    }
    Dispatch(*frame);
  }
}

asio::awaitable<void> Connection::WriteLoop(uint64_t generation) {
  std::vector<asio::const_buffer> gather;
  std::vector<FrameBytes> writing;
  while (!stopped_ && generation == generation_) {
    if (out_.empty()) {
      write_wake_.expires_at(asio::steady_timer::time_point::max());
      co_await write_wake_.async_wait(kNoThrow);
      continue;
    }
    gather.clear();
    writing.clear();
    while (!out_.empty() && writing.size() < kMaxGatherFrames) {
      writing.push_back(std::move(out_.front()));
      out_.pop_front();
      gather.emplace_back(writing.back()->data(), writing.back()->size());
    }
    auto [ec, n] = co_await asio::async_write(socket_, gather, kNoThrow);
    if (ec) {
      if (generation == generation_) Disconnect(ec);
      co_return;
    }
  }
}

void Connection::Disconnect(std::error_code why) {
  if (!connected_) return;
  spdlog::info("herald client: lost connection to {}: {}", options_.broker, why.message());
  connected_ = false;
  ++generation_;  // retires this socket's loops
  asio::error_code ec;
  socket_.close(ec);
  out_.clear();
  write_wake_.cancel();
  // Requests that can be repeated wait for the next connection; the rest fail.
  std::vector<ReplyFn> failed;
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    if (it->second.resend) {
      it->second.sent = false;
      ++it;
    } else {
      failed.push_back(std::move(it->second.reply));
      it = waiting_.erase(it);
    }
  }
  for (auto& reply : failed) reply(make_error_code(errc::not_connected), nullptr);
  listener_->OnDisconnected();
}

void Connection::Dispatch(const wire::Frame& frame) {
  if (const auto* deliver = frame.body_as_Deliver()) {
    listener_->OnDeliver(*deliver);
    return;
  }
  if (frame.request_id() == 0) {
    if (const auto* err = frame.body_as_ErrorReply()) {
      spdlog::warn("herald client: broker says: {} (code {})",
                   err->message() ? err->message()->str() : "", static_cast<int>(err->code()));
    }
    return;
  }
  auto it = waiting_.find(frame.request_id());
  if (it == waiting_.end()) return;  // timed out already
  ReplyFn reply = std::move(it->second.reply);
  waiting_.erase(it);
  reply({}, &frame);
}

}  // namespace herald::client_detail
