#include "connection.h"

#include <cerrno>
#include <cstdlib>

#include <sys/socket.h>

#include <asio/co_spawn.hpp>
#include <asio/connect.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "plaintext_token.h"
#include "schemas/names.h"
#include "schemas/tls_context.h"
#include "wire_errors.h"

namespace herald::client_detail {

namespace {

constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);
// The client trusts its broker more than the broker trusts clients, but still
// bounds what it will allocate for one frame.
constexpr uint32_t kMaxIncomingFrameBytes = 64u << 20;
constexpr auto kHandshakeTimeout = std::chrono::seconds(5);
constexpr std::size_t kMaxGatherFrames = 64;

std::string TokenOrEnvironment(const std::string& token) {
  if (!token.empty()) return token;
  const char* env = std::getenv("HERALD_TOKEN");
  return env ? env : "";
}

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
      token_(TokenOrEnvironment(options.token)),
      in_(kMaxIncomingFrameBytes),
      write_wake_(io),
      reconnect_wake_(io) {
  uint16_t port = 0;
  if (wire::SplitHostPort(options.broker, &host_, &port)) port_ = std::to_string(port);
  server_name_ = options.tls_server_name.empty() ? host_ : options.tls_server_name;
}

void Connection::Start() { asio::co_spawn(io_, ConnectLoop(), LogEscape); }

void Connection::Stop() {
  if (stopped_) return;
  stopped_ = true;
  CloseSendLane();
  if (stream_) stream_->Close();
  connected_ = false;
  write_wake_.cancel();
  reconnect_wake_.cancel();
  FailWaiting(make_error_code(errc::client_closed));
}

void Connection::Request(uint64_t request_id, FrameBytes frame, ReplyFn reply,
                         Clock::time_point deadline, bool resend) {
  if (stopped_) {
    reply(make_error_code(errc::client_closed), nullptr);
    return;
  }
  if (refused_) {
    reply(refused_, nullptr);
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
  TakeSentDirectly();
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    if (it->second.deadline > now) {
      ++it;
      continue;
    }
    ReplyFn reply = std::move(it->second.reply);
    std::error_code why = it->second.last_error ? it->second.last_error : make_error_code(errc::timeout);
    it = waiting_.erase(it);
    reply(why, nullptr);
  }
}

void Connection::Write(FrameBytes frame) {
  bool first;
  {
    MutexLock lock(send_mu_);
    out_.push_back({std::move(frame)});
    first = out_.size() == 1;
  }
  if (first) write_wake_.cancel();
}

bool Connection::CanSendNow() {
  MutexLock lock(send_mu_);
  return direct_fd_ >= 0 && !writing_ && out_.empty();
}

bool Connection::TrySendNow(uint64_t request_id, FrameBytes frame, ReplyFn reply, Clock::time_point deadline,
                            bool resend) {
  bool queued_rest = false;
  {
    MutexLock lock(send_mu_);
    if (direct_fd_ < 0 || writing_ || !out_.empty()) return false;
    // Registered before the write: the reply may be read as soon as it is out.
    sent_directly_.emplace_back(request_id, Waiting{frame, std::move(reply), deadline, resend, /*sent=*/true});
    std::size_t written = 0;
    while (written < frame->size()) {
      ssize_t n = ::send(direct_fd_, frame->data() + written, frame->size() - written, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0) {
        written += static_cast<std::size_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else {
        // A full socket buffer: the I/O thread writes the rest. Any other
        // error: the I/O thread's read finds the connection broken too, and
        // the request goes with the others (sent again if it may be).
        break;
      }
    }
    if (written < frame->size()) {
      out_.push_back({std::move(frame), written});
      queued_rest = true;
    }
  }
  // The write loop waits on its timer, on the I/O thread.
  if (queued_rest) asio::post(io_, [this] { write_wake_.cancel(); });
  return true;
}

void Connection::TakeSentDirectly() {
  std::vector<std::pair<uint64_t, Waiting>> sent;
  {
    MutexLock lock(send_mu_);
    if (sent_directly_.empty()) return;
    sent.swap(sent_directly_);
  }
  for (auto& [id, w] : sent) waiting_.emplace(id, std::move(w));
}

void Connection::CloseSendLane() {
  MutexLock lock(send_mu_);
  direct_fd_ = -1;
  out_.clear();
  writing_ = false;
}

asio::awaitable<void> Connection::ConnectLoop() {
  auto backoff = options_.reconnect_backoff_min;
  while (!stopped_) {
    std::error_code ec = co_await ConnectOnce();
    if (!ec && !stopped_) {
      backoff = options_.reconnect_backoff_min;
      if (refused_) {
        spdlog::info("herald client: connected to {}{}", options_.broker,
                     principal_.empty() ? "" : " as " + principal_);
        refused_ = {};
      }
      connected_ = true;
      uint64_t generation = ++generation_;
      listener_->OnConnected();
      // Everything waiting goes out now, oldest request first.
      TakeSentDirectly();
      for (auto& [id, w] : waiting_) {
        if (!w.sent) {
          w.sent = true;
          Write(w.frame);
        }
      }
      // Callers may write from now on, behind what was queued above.
      if (!stream_->tls()) {
        MutexLock lock(send_mu_);
        direct_fd_ = stream_->socket().native_handle();
      }
      asio::co_spawn(io_, WriteLoop(generation, stream_), LogEscape);
      co_await ReadLoop(generation, stream_);
      // Pause briefly even after a connection that worked, so a broker that
      // accepts and drops us at once is not hammered.
      reconnect_wake_.expires_after(options_.reconnect_backoff_min);
      co_await reconnect_wake_.async_wait(kNoThrow);
      continue;
    }
    if (stopped_) break;
    if (IsRefusal(ec)) {
      Refuse(ec);
      backoff = options_.reconnect_backoff_max;
    } else {
      spdlog::debug("herald client: connect to {} failed: {}; retry in {} ms", options_.broker,
                    ec.message(), backoff.count());
      // A TLS broker drops a plain client's Hello without a word; say what
      // that may mean, once.
      if (ec == asio::error::eof && !options_.tls && !std::exchange(closed_hint_logged_, true)) {
        spdlog::warn("herald client: {} closed the connection during the handshake; if it serves "
                     "TLS, connect with TLS", options_.broker);
      }
    }
    reconnect_wake_.expires_after(backoff);
    co_await reconnect_wake_.async_wait(kNoThrow);
    backoff = std::min(backoff * 2, options_.reconnect_backoff_max);
  }
}

asio::awaitable<std::error_code> Connection::ConnectOnce() {
  attempt_ = {};
  attempt_.token_sent = !token_.empty();
  attempt_.server_name = server_name_;
  if (port_.empty()) {
    attempt_.message = "'" + options_.broker + "' is not HOST:PORT";
    co_return make_error_code(errc::invalid_argument);
  }
  if (options_.tls && !tls_) {
    // Loaded at each attempt until it works: the CA file may appear later.
    tls_ = wire::MakeClientTlsContext(options_.tls_ca_file, &attempt_.message);
    if (!tls_) co_return make_error_code(errc::invalid_argument);
  }
  asio::ip::tcp::resolver resolver(io_);
  auto [rec, endpoints] = co_await resolver.async_resolve(host_, port_, kNoThrow);
  if (rec) co_return rec;
  // Before any connect: a refused token must not leave the machine.
  if (std::error_code pec = CheckPlaintextToken(endpoints)) co_return pec;
  auto stream = tls_ ? std::make_shared<wire::ByteStream>(asio::ip::tcp::socket(io_), *tls_)
                     : std::make_shared<wire::ByteStream>(asio::ip::tcp::socket(io_));
  stream_ = stream;
  in_ = wire::FrameBuffer(kMaxIncomingFrameBytes);

  // One timer bounds connect, TLS and Hello: it closes the socket if they hang.
  asio::steady_timer guard(io_);
  guard.expires_after(kHandshakeTimeout);
  bool done = false;
  guard.async_wait([stream, &done](std::error_code ec) {
    if (!ec && !done) stream->Close();
  });
  auto finish = [&](std::error_code ec) {
    done = true;
    guard.cancel();
    return ec;
  };

  auto [cec, ep] = co_await asio::async_connect(stream->socket(), endpoints, kNoThrow);
  if (cec) co_return finish(cec);
  asio::error_code ignored;
  stream->socket().set_option(asio::ip::tcp::no_delay(true), ignored);
  if (std::error_code tec = co_await stream->Handshake(wire::TlsRole::kClient, server_name_)) {
    co_return finish(tec);
  }

  flatbuffers::FlatBufferBuilder fbb(192);
  // The broker keeps 64 bytes of the name, and refuses frames above
  // wire::kMaxHelloFrameBytes before Hello: a long name must not cost the connection.
  auto name = fbb.CreateString(std::string_view(options_.client_name).substr(0, 256));
  // No token field at all without a token: a broker with auth off ignores it anyway.
  flatbuffers::Offset<flatbuffers::String> token;
  if (!token_.empty()) token = fbb.CreateString(token_);
  auto hello = wire::FinishFrame(fbb, 0, wire::CreateHello(fbb, wire::kProtocolVersion, name, token));
  asio::const_buffer hello_buffer(hello.data(), hello.size());
  auto [wec, wn] = co_await stream->Write({&hello_buffer, 1});
  if (wec) co_return finish(wec);

  for (;;) {
    std::span<const uint8_t> body;  // the whole frame, prefix included
    uint32_t length = 0;
    auto result = in_.Next(&body, &length);
    if (result == wire::FrameBuffer::Result::kNeedMore) {
      auto space = in_.Space();
      auto [rec2, n] = co_await stream->ReadSome(asio::buffer(space.data(), space.size()));
      if (rec2) co_return finish(rec2);
      in_.Commit(n);
      continue;
    }
    const wire::Frame* frame = result == wire::FrameBuffer::Result::kFrame
                                   ? wire::VerifyFrame(body.data(), body.size())
                                   : nullptr;
    if (frame == nullptr) co_return finish(make_error_code(errc::protocol_violation));
    if (const auto* err = frame->body_as_ErrorReply()) {
      attempt_.message = err->message() ? err->message()->str() : "";
      auto code = ErrorFromWire(err->code());
      // A refusal is logged by ConnectLoop, once; other refusals are the broker's passing state.
      if (!IsRefusal(code)) {
        spdlog::warn("herald client: broker refused the handshake: {}", attempt_.message);
      }
      co_return finish(code);
    }
    const auto* ok = frame->body_as_HelloOk();
    if (ok == nullptr) co_return finish(make_error_code(errc::protocol_violation));
    principal_ = ok->principal() ? ok->principal()->str() : "";
    max_publish_bytes_.store(ok->max_publish_bytes() != 0 ? ok->max_publish_bytes() : wire::kDefaultMaxPublishBytes,
                             std::memory_order_relaxed);
    max_publish_messages_.store(
        ok->max_publish_messages() != 0 ? ok->max_publish_messages() : wire::kDefaultMaxPublishMessages,
        std::memory_order_relaxed);
    co_return finish({});
  }
}

std::error_code Connection::CheckPlaintextToken(const asio::ip::tcp::resolver::results_type& endpoints) {
  std::vector<asio::ip::address> addresses;
  for (const auto& e : endpoints) addresses.push_back(e.endpoint().address());
  asio::ip::address offender;
  if (!RefusesPlaintextToken(options_, !token_.empty(), addresses, &offender)) return {};
  attempt_.message = DescribePlaintextRefusal(options_.broker, offender);
  return make_error_code(errc::plaintext_token_refused);
}

void Connection::Refuse(std::error_code why) {
  if (why != refused_) {
    spdlog::error("herald client: {}; retrying every {} ms",
                  DescribeRefusal(why, options_, attempt_), options_.reconnect_backoff_max.count());
    refused_ = why;
    listener_->OnRefused(why);
  }
  FailWaiting(why);
}

void Connection::FailWaiting(std::error_code why) {
  TakeSentDirectly();
  auto waiting = std::move(waiting_);
  waiting_.clear();
  for (auto& [id, w] : waiting) w.reply(why, nullptr);
}

asio::awaitable<void> Connection::ReadLoop(uint64_t generation,
                                           std::shared_ptr<wire::ByteStream> stream) {
  while (!stopped_ && generation == generation_) {
    std::span<const uint8_t> body;  // the whole frame, prefix included
    uint32_t length = 0;
    auto result = in_.Next(&body, &length);
    if (result == wire::FrameBuffer::Result::kNeedMore) {
      auto space = in_.Space();
      auto [ec, n] = co_await stream->ReadSome(asio::buffer(space.data(), space.size()));
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

asio::awaitable<void> Connection::WriteLoop(uint64_t generation,
                                            std::shared_ptr<wire::ByteStream> stream) {
  std::vector<asio::const_buffer> gather;
  std::vector<FrameBytes> writing;
  while (!stopped_ && generation == generation_) {
    gather.clear();
    writing.clear();
    {
      MutexLock lock(send_mu_);
      while (!out_.empty() && writing.size() < kMaxGatherFrames) {
        OutFrame& next = out_.front();
        gather.emplace_back(next.frame->data() + next.written, next.frame->size() - next.written);
        writing.push_back(std::move(next.frame));
        out_.pop_front();
      }
      // Callers wait while a write is in flight: their frames queue behind it.
      writing_ = !writing.empty();
    }
    if (writing.empty()) {
      write_wake_.expires_at(asio::steady_timer::time_point::max());
      co_await write_wake_.async_wait(kNoThrow);
      continue;
    }
    auto [ec, n] = co_await stream->Write(gather);
    if (ec) {
      if (generation == generation_) Disconnect(ec);
      co_return;
    }
    if (generation == generation_) {
      MutexLock lock(send_mu_);
      writing_ = false;
    }
  }
}

void Connection::Disconnect(std::error_code why) {
  if (!connected_) return;
  spdlog::info("herald client: lost connection to {}: {}", options_.broker, why.message());
  connected_ = false;
  ++generation_;  // retires this stream's loops
  CloseSendLane();
  stream_->Close();
  write_wake_.cancel();
  TakeSentDirectly();
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
      // TimedOut here is the broker closing a connection idle for its idle
      // timeout (default 10 min): routine; the client reconnects at once.
      auto level = err->code() == wire::ErrorCode::TimedOut ? spdlog::level::info : spdlog::level::warn;
      spdlog::log(level, "herald client: broker says: {} (code {})",
                  err->message() ? err->message()->str() : "", static_cast<int>(err->code()));
    }
    return;
  }
  auto it = waiting_.find(frame.request_id());
  if (it == waiting_.end()) {
    TakeSentDirectly();
    it = waiting_.find(frame.request_id());
  }
  if (it == waiting_.end()) return;  // timed out already
  const auto* err = frame.body_as_ErrorReply();
  if (it->second.resend && err != nullptr && err->code() == wire::ErrorCode::ProducerIdInUse) {
    // The broker closes this connection too; what we sent after this publish
    // was not stored, so all of it is sent again on the next connection.
    it->second.last_error = make_error_code(errc::producer_id_in_use);
    Disconnect(it->second.last_error);
    return;
  }
  ReplyFn reply = std::move(it->second.reply);
  waiting_.erase(it);
  reply({}, &frame);
}

}  // namespace herald::client_detail
