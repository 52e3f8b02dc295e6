#include "broker/net/session.h"

#include "broker/net/handler_support.h"

#include <algorithm>
#include <iterator>

#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/read.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "broker/metrics/broker_metrics.h"
#include "broker/net/request_handler.h"
#include "broker/storage/record_batch.h"

namespace herald::broker {

namespace {

constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);
constexpr std::size_t kMaxGatherFrames = 64;
constexpr std::size_t kMaxDeliverFrameBytes = 1u << 20;
// Read buffer to start with: before Hello just enough for one Hello (it grows
// to wire::kMaxHelloFrameBytes at most), after it room for many small frames
// per read.
constexpr std::size_t kHelloReadBufferBytes = 512;
constexpr std::size_t kReadBufferBytes = 64u << 10;

// Before Hello: the protocol's pre-Hello limit, or --max-frame-bytes if lower.
uint32_t MaxHelloFrameBytes(const BrokerConfig& config) {
  return std::min(wire::kMaxHelloFrameBytes, config.max_frame_bytes);
}

// Logs an exception that escaped a session coroutine instead of dropping it.
auto LogEscape(std::shared_ptr<Session> session, const char* loop) {
  return [session, loop](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::get("net")->error("session {}: {} loop failed: {}", session->id(), loop, ex.what());
    }
    session->Close();
  };
}

}  // namespace

Session::Session(asio::ip::tcp::socket socket, BrokerContext& ctx, uint64_t id)
    : tls_(ctx.tls),
      stream_(tls_ ? wire::ByteStream(std::move(socket), *tls_) : wire::ByteStream(std::move(socket))),
      ctx_(ctx),
      id_(id),
      in_(MaxHelloFrameBytes(ctx.config), kHelloReadBufferBytes),
      read_resume_(ctx.io),
      stall_timer_(ctx.io),
      idle_timer_(ctx.io),
      started_(std::chrono::steady_clock::now()),
      write_wake_(ctx.io) {
  std::error_code ec;
  auto ep = stream_.socket().remote_endpoint(ec);
  peer_ = ec ? "?" : ep.address().to_string() + ":" + std::to_string(ep.port());
  stream_.socket().set_option(asio::ip::tcp::no_delay(true), ec);
  stream_ready_ = !stream_.tls();
  read_resume_.expires_at(asio::steady_timer::time_point::max());
  write_wake_.expires_at(asio::steady_timer::time_point::max());
}

Session::~Session() = default;

void Session::Start() {
  // The info line comes with Hello, when the client has a name.
  spdlog::get("net")->debug("session {}: connected from {}", id_, peer_);
  auto self = shared_from_this();
  asio::co_spawn(ctx_.io, ReadLoop(), LogEscape(self, "read"));
  asio::co_spawn(ctx_.io, WriteLoop(), LogEscape(self, "write"));
}

void Session::set_handshaken(std::string client_name, std::shared_ptr<const Principal> principal) {
  handshaken_ = true;
  client_name_ = std::move(client_name);
  principal_ = std::move(principal);
  in_.SetLimits(ctx_.config.max_frame_bytes, kReadBufferBytes);
}

bool Session::Reauthenticate(const std::shared_ptr<const Principals>& principals) {
  if (!principal_ || closing()) return true;
  const Principal* now = principals ? principals->FindByTokenHash(principal_->token_hash) : nullptr;
  if (now == nullptr) {
    spdlog::get("net")->warn("session {}: {}'s token was revoked by a reload: closing", id_, who());
    FailAndClose(0, {wire::ErrorCode::AuthenticationFailed,
                     "authentication failed: the broker's principals file no longer accepts this token"});
    return false;
  }
  principal_ = std::shared_ptr<const Principal>(principals, now);
  return true;
}

void Session::StopReading() {
  stop_reading_ = true;
  ReleaseProducerIds();
  asio::error_code ec;
  stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_receive, ec);
  read_resume_.cancel();
}

void Session::CloseWhenFlushed() {
  stop_reading_ = true;
  ReleaseProducerIds();
  close_after_flush_ = true;
  write_wake_.cancel();
}

void Session::Close() {
  if (closed_) return;
  closed_ = true;
  ReleaseProducerIds();
  spdlog::get("net")->info("session {} ({}): closed ({} subscriptions)", id_, who(), subscriptions_.size());
  asio::error_code ec;
  stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  stream_.Close();
  read_resume_.cancel();
  stall_timer_.cancel();
  idle_timer_.cancel();
  write_wake_.cancel();
  // Members leave their groups now, so their unacked messages are redelivered
  // to the remaining members without waiting for ack deadlines.
  for (auto& [sid, sub] : subscriptions_) sub.group->RemoveMember(sub.member_id);
  subscriptions_.clear();
  out_.clear();
  out_bytes_ = 0;
}

void Session::Send(wire::EncodedFrame frame) {
  if (closed_) return;
  out_bytes_ += frame.size();
  out_.push_back(std::move(frame));
  if (out_.size() == 1) write_wake_.cancel();
}

void Session::SendError(uint64_t request_id, const Status& status, wire::Body request) {
  if (ctx_.metrics != nullptr) {
    ctx_.metrics->CountError(request != wire::Body::NONE ? request : dispatching_, status.code());
  }
  Send(wire::EncodeError(request_id, status.code(), status.message()));
}

void Session::FailAndClose(uint64_t request_id, const Status& status) {
  spdlog::get("net")->warn("session {} ({}): {} ({}); closing", id_, peer_, status.message(),
                           wire::EnumNameErrorCode(status.code()));
  SendError(request_id, status);
  close_after_flush_ = true;
  stop_reading_ = true;
  ReleaseProducerIds();
  write_wake_.cancel();
}

void Session::Reject(const Status& status) {
  if (!stream_ready_) {
    // Before the TLS handshake is done there is no way to send the reason
    // (and a client that never starts it would never read one): just close.
    spdlog::get("net")->warn("session {} ({}): {} ({}), before the TLS handshake; closing", id_, peer_,
                             status.message(), wire::EnumNameErrorCode(status.code()));
    Close();
    return;
  }
  FailAndClose(0, status);
  asio::error_code ec;
  stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_receive, ec);
}

void Session::UpdateStallTimer() {
  using Clock = std::chrono::steady_clock;
  Clock::time_point deadline = Clock::time_point::max();
  if (!handshaken_) {
    deadline = started_ + ctx_.config.handshake_timeout;
  } else if (in_.HasPartialFrame()) {
    if (partial_since_ == Clock::time_point{}) partial_since_ = Clock::now();
    deadline = partial_since_ + ctx_.config.frame_timeout;
  } else {
    partial_since_ = {};
  }
  if (deadline == stall_deadline_) return;
  stall_deadline_ = deadline;
  if (deadline == Clock::time_point::max()) {
    stall_timer_.cancel();
    return;
  }
  stall_timer_.expires_at(deadline);
  stall_timer_.async_wait([weak = weak_from_this(), deadline](std::error_code ec) {
    auto self = std::static_pointer_cast<Session>(weak.lock());
    if (ec || !self || self->closed_ || self->stall_deadline_ != deadline) return;
    self->Reject({wire::ErrorCode::TimedOut, self->handshaken_ ? "a frame was left half-sent too long"
                                                               : "no Hello within the handshake timeout"});
  });
}

bool Session::CountDenial() {
  if (ctx_.metrics != nullptr) ++ctx_.metrics->requests_denied;
  return ++denials_ <= 20 || denials_ % 1000 == 0;
}

bool Session::Idle() const {
  return handshaken_ && subscriptions_.empty() && inflight_requests_ == 0 && out_.empty() &&
         !in_.HasPartialFrame();
}

void Session::ArmIdleTimer() {
  const auto timeout = ctx_.config.idle_timeout;
  if (timeout.count() <= 0 || closed_) return;
  idle_timer_.expires_at(last_read_ + timeout);
  idle_timer_.async_wait([weak = weak_from_this()](std::error_code ec) {
    auto self = std::static_pointer_cast<Session>(weak.lock());
    if (ec || !self || self->closed_) return;
    const auto limit = self->ctx_.config.idle_timeout;
    if (self->Idle() && std::chrono::steady_clock::now() - self->last_read_ >= limit) {
      spdlog::get("net")->info("session {} ({}): idle for {} ms; closing", self->id_, self->who(),
                               limit.count());
      self->Reject({wire::ErrorCode::TimedOut, "the connection was idle too long"});
      return;
    }
    // Busy or read from since: look again one timeout after the last read.
    if (!self->Idle()) self->last_read_ = std::max(self->last_read_, std::chrono::steady_clock::now());
    self->ArmIdleTimer();
  });
}

void Session::BeginRequest(std::size_t bytes) {
  ++inflight_requests_;
  inflight_bytes_ += bytes;
}

void Session::EndRequest(std::size_t bytes) {
  bool was_paused = ReadPaused();
  --inflight_requests_;
  inflight_bytes_ -= bytes;
  if (was_paused && !ReadPaused()) read_resume_.cancel();
}

bool Session::ReadPaused() const {
  // A client that sends requests but does not read its replies stops being
  // read too, so its replies cannot pile up without bound.
  return inflight_requests_ >= ctx_.config.max_inflight_requests ||
         inflight_bytes_ >= ctx_.config.max_inflight_bytes ||
         out_bytes_ >= 2 * ctx_.config.max_outgoing_bytes;
}

Status Session::ClaimProducerId(uint64_t producer_id) {
  const bool new_here = std::find(producer_ids_.begin(), producer_ids_.end(), producer_id) ==
                        producer_ids_.end();
  if (!new_here) return Status::Ok();
  if (producer_ids_.size() >= kMaxProducerIds) {
    return {wire::ErrorCode::InvalidArgument,
            fmt::format("a connection may publish with at most {} producer ids", kMaxProducerIds)};
  }
  if (!ctx_.producer_claims.Claim(producer_id, id_)) {
    return {wire::ErrorCode::ProducerIdInUse,
            fmt::format("producer id {} is in use by another connection", producer_id)};
  }
  producer_ids_.push_back(producer_id);
  return Status::Ok();
}

void Session::ReleaseProducerIds() {
  for (uint64_t producer_id : producer_ids_) ctx_.producer_claims.Release(producer_id, id_);
  producer_ids_.clear();
}

void Session::AddSubscription(uint32_t subscription_id, std::shared_ptr<ConsumerGroup> group,
                              uint64_t member_id) {
  subscriptions_[subscription_id] = {std::move(group), member_id};
}

const Session::Subscription* Session::FindSubscription(uint32_t subscription_id) const {
  auto it = subscriptions_.find(subscription_id);
  return it == subscriptions_.end() ? nullptr : &it->second;
}

bool Session::RemoveSubscription(uint32_t subscription_id) {
  auto it = subscriptions_.find(subscription_id);
  if (it == subscriptions_.end()) return false;
  it->second.group->RemoveMember(it->second.member_id);
  subscriptions_.erase(it);
  return true;
}

bool Session::Writable() const { return !closed_ && out_bytes_ < ctx_.config.max_outgoing_bytes; }

void Session::Deliver(uint32_t subscription_id, std::span<const OutgoingDelivery> batch) {
  std::size_t i = 0;
  while (i < batch.size()) {
    // Split so that a frame stays near kMaxDeliverFrameBytes (one message may exceed it).
    const std::size_t first = i;
    std::size_t bytes = 0;
    for (; i < batch.size() && (i == first || bytes < kMaxDeliverFrameBytes); ++i) {
      bytes += batch[i].message.record().bytes.size() + sizeof(wire::DeliveredRecord);
    }
    flatbuffers::FlatBufferBuilder fbb(wire::RecycledFrameBytes(bytes + 128), &wire::RecyclingFrameAllocator());
    DeliveredRecords built = BuildDeliveredRecords(
        fbb, batch.subspan(first, i - first), [](const OutgoingDelivery& d) -> const MessageRef& { return d.message; },
        [](const OutgoingDelivery& d) { return d.delivery_count; }, &delivery_table_);
    Send(wire::FinishFrame(fbb, 0, wire::CreateDeliver(fbb, subscription_id, built.records, built.entries)));
  }
}

asio::awaitable<void> Session::ReadLoop() {
  auto self = shared_from_this();
  if (!stream_ready_) {
    UpdateStallTimer();  // the handshake timeout bounds the TLS handshake too
    std::error_code ec = co_await stream_.Handshake(wire::TlsRole::kServer);
    if (closed_) co_return;
    if (ec) {
      spdlog::get("net")->info("session {} ({}): TLS handshake failed: {}", id_, peer_, ec.message());
      Close();
      co_return;
    }
    stream_ready_ = true;
    write_wake_.cancel();
  }
  last_read_ = std::chrono::steady_clock::now();
  ArmIdleTimer();
  while (!closed_ && !stop_reading_) {
    std::span<const uint8_t> body;  // the whole frame, prefix included
    uint32_t length = 0;
    switch (in_.Next(&body, &length)) {
      case wire::FrameBuffer::Result::kNeedMore: {
        UpdateStallTimer();
        std::span<uint8_t> space = in_.Space();
        auto [ec, n] = co_await stream_.ReadSome(asio::buffer(space.data(), space.size()));
        if (ec) {
          // The client closed its side or the socket failed. Requests in
          // flight still complete; the write loop then finishes the session.
          if (!close_after_flush_ && !stop_reading_) {
            close_after_flush_ = true;
            write_wake_.cancel();
          }
          ReleaseProducerIds();
          co_return;
        }
        in_.Commit(n);
        last_read_ = std::chrono::steady_clock::now();
        continue;
      }
      case wire::FrameBuffer::Result::kEmptyFrame:
        FailAndClose(0, {wire::ErrorCode::MalformedFrame, "frame length 0"});
        co_return;
      case wire::FrameBuffer::Result::kTooLarge:
        FailAndClose(0, {wire::ErrorCode::FrameTooLarge,
                         handshaken_ ? fmt::format("frame of {} bytes is above the limit of {}", length,
                                                   ctx_.config.max_frame_bytes)
                                     : fmt::format("frame of {} bytes is above the limit of {} before Hello",
                                                   length, MaxHelloFrameBytes(ctx_.config))});
        co_return;
      case wire::FrameBuffer::Result::kFrame:
        break;
    }
    const wire::Frame* frame = wire::VerifyFrame(body.data(), body.size());
    if (frame == nullptr) {
      FailAndClose(0, {wire::ErrorCode::MalformedFrame, "frame failed verification"});
      co_return;
    }
    partial_since_ = {};  // the next frame's clock starts when its first bytes arrive
    HandleFrame(*this, ctx_, *frame);
    while (ReadPaused() && !closed_ && !stop_reading_) {
      // The broker, not the client, is holding the stream up: no stall clock now.
      partial_since_ = {};
      stall_deadline_ = std::chrono::steady_clock::time_point::max();
      stall_timer_.cancel();
      read_resume_.expires_at(asio::steady_timer::time_point::max());
      co_await read_resume_.async_wait(kNoThrow);
    }
  }
}

asio::awaitable<void> Session::WriteLoop() {
  auto self = shared_from_this();
  std::vector<asio::const_buffer> gather;
  std::vector<wire::EncodedFrame> writing;
  while (!closed_) {
    if (out_.empty() || !stream_ready_) {
      // A closing session lingers until its storage completions have replied.
      if (close_after_flush_ && inflight_requests_ == 0 && out_.empty()) break;
      write_wake_.expires_at(asio::steady_timer::time_point::max());
      co_await write_wake_.async_wait(kNoThrow);
      continue;
    }
    gather.clear();
    if (out_.size() <= kMaxGatherFrames) {
      writing.swap(out_);  // both keep their capacity: no allocation per write
    } else {
      auto end = out_.begin() + kMaxGatherFrames;
      writing.assign(std::make_move_iterator(out_.begin()), std::make_move_iterator(end));
      out_.erase(out_.begin(), end);
    }
    for (const auto& frame : writing) gather.emplace_back(frame.data(), frame.size());
    auto [ec, n] = co_await stream_.Write(gather);
    writing.clear();  // the frames' buffers go back for reuse (RecyclingFrameAllocator)
    if (ec) break;
    bool was_writable = Writable(), was_paused = ReadPaused();
    out_bytes_ -= n;
    if (!was_writable && Writable()) {
      for (auto& [sid, sub] : subscriptions_) sub.group->OnSinkWritable();
    }
    if (was_paused && !ReadPaused()) read_resume_.cancel();
  }
  Close();
}

}  // namespace herald::broker
