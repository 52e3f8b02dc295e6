#pragma once
// Session: one client connection. A read loop turns bytes into verified
// frames and hands them to the request handler; a write loop drains the
// outgoing queue with gathered writes. It is the SubscriberSink of every
// group member the client created.
//
// With TLS on (ctx.tls), the read loop runs the TLS handshake first and the
// write loop waits for it; the handshake timeout covers both handshakes.
//
// Thread: the broker's I/O thread (single-threaded io_context): the loops,
// the handlers and the storage completions (posted back) all run there.
// Lifetime: shared_ptr, held by its two coroutines and by pending storage
// completions; groups hold it only by weak_ptr.

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include "broker/dispatch/consumer_group.h"
#include "broker/dispatch/subscriber_sink.h"
#include "broker/security/principals.h"
#include "broker/state/broker_context.h"
#include "broker/status.h"
#include "schemas/byte_stream.h"
#include "schemas/frame.h"
#include "schemas/frame_buffer.h"

namespace herald::broker {

class Session : public SubscriberSink, public std::enable_shared_from_this<Session> {
 public:
  Session(asio::ip::tcp::socket socket, BrokerContext& ctx, uint64_t id);
  ~Session() override;

  void Start();
  // Stops reading requests; what is in flight still completes (graceful stop).
  void StopReading();
  // Closes once every queued frame is written (graceful stop).
  void CloseWhenFlushed();
  void Close();

  uint64_t id() const { return id_; }
  std::shared_ptr<Session> Self() { return std::static_pointer_cast<Session>(shared_from_this()); }
  bool closed() const { return closed_; }
  bool handshaken() const { return handshaken_; }
  // After Hello. `principal` is who the token named; nullptr when auth is off.
  // Lifts the read side from the pre-Hello frame limit to --max-frame-bytes.
  void set_handshaken(std::string client_name, std::shared_ptr<const Principal> principal);
  // After a reload swapped in `principals`: binds this connection to the
  // principal its token names now, whose rights apply from its next request.
  // If the token names no one any more (the principal was removed or its
  // token changed), sends AuthenticationFailed and closes; returns false.
  bool Reauthenticate(const std::shared_ptr<const Principals>& principals);
  // Closed, or closing once its queue is written (refused, failed, or the
  // client hung up): it no longer counts against the connection limits.
  bool closing() const { return closed_ || close_after_flush_; }
  const Principal* principal() const { return principal_.get(); }
  // Whether this connection may do `p` on `name`: always when auth is off.
  bool Allows(Permission p, std::string_view name) const {
    return principal_ == nullptr || principal_->acl.Allows(p, name);
  }
  // Counts a refused request (here and in the broker's metrics); true if it
  // should be logged (the first few per connection, then one in 1,000, so a
  // looping client cannot flood the log).
  bool CountDenial();
  uint64_t denials() const { return denials_; }
  // "client-name@host:port" (with "/principal" when auth is on), for log
  // lines about what this connection did.
  std::string who() const {
    return (client_name_.empty() ? "?" : client_name_) + "@" + peer_ +
           (principal_ ? "/" + principal_->name : "");
  }
  uint32_t inflight_requests() const { return inflight_requests_; }

  void Send(wire::EncodedFrame frame);
  // Counts the error in /metrics by its code and by the request it answers:
  // `request` if given, else the request being dispatched (HandleFrame), else
  // none (a connection-level error). Replies sent later, from a storage
  // completion, name their request.
  void SendError(uint64_t request_id, const Status& status, wire::Body request = wire::Body::NONE);
  // HandleFrame: the type of the request being handled, for SendError.
  void set_dispatching(wire::Body request) { dispatching_ = request; }
  // Sends the error, then closes once the outgoing queue is written: for
  // protocol violations, after which the stream cannot be trusted.
  void FailAndClose(uint64_t request_id, const Status& status);
  // Refuses the connection at once (e.g. above the connection limit): sends
  // the reason, then closes; before a TLS handshake, just closes.
  void Reject(const Status& status);

  // Binds `producer_id` to this connection (ProducerClaims) until it stops
  // being read. ProducerIdInUse if another connection holds it;
  // InvalidArgument if this one holds kMaxProducerIds ids already.
  static constexpr std::size_t kMaxProducerIds = 1024;
  Status ClaimProducerId(uint64_t producer_id);

  // Requests waiting for storage; the read loop pauses above the limits.
  void BeginRequest(std::size_t bytes);
  void EndRequest(std::size_t bytes);

  // Subscriptions of this connection (client-visible id -> group member).
  struct Subscription {
    std::shared_ptr<ConsumerGroup> group;
    uint64_t member_id;  // settlements of this subscription act as this member
  };
  uint32_t NextSubscriptionId() { return next_subscription_id_++; }
  void AddSubscription(uint32_t subscription_id, std::shared_ptr<ConsumerGroup> group,
                       uint64_t member_id);
  const Subscription* FindSubscription(uint32_t subscription_id) const;
  bool RemoveSubscription(uint32_t subscription_id);

  // SubscriberSink
  bool Writable() const override;
  void Deliver(uint32_t subscription_id, std::span<const OutgoingDelivery> batch) override;

 private:
  asio::awaitable<void> ReadLoop();
  asio::awaitable<void> WriteLoop();
  bool ReadPaused() const;
  // Arms or disarms the timer that closes a connection stalled in its
  // handshake or in the middle of a frame.
  void UpdateStallTimer();
  // Closes the connection once it has been idle for the idle timeout. The
  // timer is armed once per timeout period, not per read: reads only stamp
  // last_read_, and a firing timer re-arms for what is left.
  void ArmIdleTimer();
  bool Idle() const;
  // Once no further request of this connection will be handled, its producer
  // ids are free for a reconnecting producer: what it has in flight is
  // deduplicated by the store, which handles appends in order.
  void ReleaseProducerIds();

  // The TLS context this connection was accepted with (a reload may have
  // replaced ctx_.tls since): it must outlive stream_, so it comes first.
  std::shared_ptr<asio::ssl::context> tls_;
  wire::ByteStream stream_;
  BrokerContext& ctx_;
  uint64_t id_;
  std::string peer_;
  std::string client_name_;
  // Shares ownership of the principals set it came from (aliasing).
  std::shared_ptr<const Principal> principal_;
  uint64_t denials_ = 0;
  wire::Body dispatching_ = wire::Body::NONE;
  bool stream_ready_ = false;  // TLS handshake done (at once without TLS)
  bool handshaken_ = false;
  bool closed_ = false;
  bool stop_reading_ = false;
  bool close_after_flush_ = false;

  // Read side.
  wire::FrameBuffer in_;
  uint32_t inflight_requests_ = 0;
  std::size_t inflight_bytes_ = 0;
  asio::steady_timer read_resume_;
  asio::steady_timer stall_timer_;
  asio::steady_timer idle_timer_;
  std::chrono::steady_clock::time_point last_read_;
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point partial_since_{};  // a frame began arriving
  std::chrono::steady_clock::time_point stall_deadline_ = std::chrono::steady_clock::time_point::max();

  // Write side.
  std::vector<wire::EncodedFrame> out_;  // WriteLoop swaps it with the frames it writes
  // Deliver's scratch for a frame's table (BuildDeliveredRecords), kept so
  // that a delivery allocates no table of its own.
  std::vector<wire::DeliveredRecord> delivery_table_;
  std::size_t out_bytes_ = 0;
  asio::steady_timer write_wake_;

  std::unordered_map<uint32_t, Subscription> subscriptions_;
  uint32_t next_subscription_id_ = 1;
  std::vector<uint64_t> producer_ids_;  // held in ctx_.producer_claims
};

}  // namespace herald::broker
