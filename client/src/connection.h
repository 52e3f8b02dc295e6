#pragma once
// Connection: the SDK's one broker connection, reconnected with exponential
// backoff. It owns the byte stream (TCP, or TLS over it), the frame reader and
// writer, and the table of requests waiting for replies (keyed by request id).
//
// Requests are registered with Request(); the connection sends them when it is
// connected, and after a reconnect sends again the ones marked `resend` (in
// request-id order, so publishes keep their order). The others fail with
// errc::not_connected when their connection is lost.
//
// A publish refused with ProducerIdInUse (the broker still holds this client's
// producer id for an older connection it has not yet seen close) is handled
// like a lost connection: the connection is dropped, and after a reconnect it
// goes out again with everything behind it, in order, until its deadline
// (then it fails with errc::producer_id_in_use).
//
// A refusal (refusal.h: a refused token, a failed TLS handshake) fails every
// waiting request with its error, and new requests at once, until a handshake
// succeeds; meanwhile the connection retries every reconnect_backoff_max.
//
// A request can also go out from the caller's thread (TrySendNow): when the
// connection is up over plain TCP and nothing is queued or being written
// ahead of it, the caller writes its frame to the socket itself, and the
// I/O thread, which would otherwise have to be woken for it, only reads the
// reply. What a partial write leaves goes to the I/O thread's queue.
//
// Thread: the client's I/O thread; every method and callback runs there,
// except TrySendNow, CanSendNow, NextRequestId and the publish limits (any
// thread). The send lane (the queue of frames to write, the socket a caller
// may write to, requests sent by callers and not yet in waiting_) is under
// send_mu_.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include "herald/client.h"
#include "refusal.h"
#include "schemas/byte_stream.h"
#include "schemas/frame.h"
#include "schemas/frame_buffer.h"
#include "schemas/thread_annotations.h"

namespace asio::ssl {
class context;
}

namespace herald::client_detail {

using Clock = std::chrono::steady_clock;
// Frames are shared: a publish keeps its frame to send it again after a reconnect.
using FrameBytes = std::shared_ptr<const wire::EncodedFrame>;

inline FrameBytes Share(wire::EncodedFrame frame) {
  return std::make_shared<const wire::EncodedFrame>(std::move(frame));
}

// A reply frame (valid only during the call), or an error and nullptr.
using ReplyFn = std::function<void(std::error_code, const wire::Frame*)>;

class ConnectionListener {
 public:
  virtual ~ConnectionListener() = default;
  virtual void OnConnected() = 0;     // handshake done; before waiting requests are sent
  virtual void OnDisconnected() = 0;
  // A refusal began (or its reason changed); OnConnected ends it.
  virtual void OnRefused(std::error_code why) = 0;
  virtual void OnDeliver(const wire::Deliver& deliver) = 0;
};

class Connection {
 public:
  // *listener must outlive the connection.
  Connection(asio::io_context& io, const ClientOptions& options, ConnectionListener* listener);

  void Start();
  // Closes for good; every waiting request fails with errc::client_closed.
  void Stop();

  bool connected() const { return connected_; }
  // HelloOk's principal from the latest handshake.
  const std::string& principal() const { return principal_; }
  // HelloOk's limits of one Publish (the protocol's defaults before the first
  // handshake, or from a broker that does not announce them).
  uint32_t max_publish_bytes() const { return max_publish_bytes_.load(std::memory_order_relaxed); }
  uint32_t max_publish_messages() const { return max_publish_messages_.load(std::memory_order_relaxed); }
  uint64_t NextRequestId() { return next_request_id_.fetch_add(1, std::memory_order_relaxed); }

  void Request(uint64_t request_id, FrameBytes frame, ReplyFn reply, Clock::time_point deadline,
               bool resend);
  // Any thread. Sends the request from the calling thread if the way is
  // clear (see above) and returns true, registered as Request registers it;
  // else returns false and does nothing.
  bool TrySendNow(uint64_t request_id, FrameBytes frame, ReplyFn reply, Clock::time_point deadline,
                  bool resend) EXCLUDES(send_mu_);
  // Any thread: whether TrySendNow would find the way clear now.
  bool CanSendNow() EXCLUDES(send_mu_);
  // Sends a frame that expects no reply; dropped when not connected.
  void SendOneWay(FrameBytes frame);
  // Fails requests whose deadline passed with errc::timeout.
  void ExpireRequests(Clock::time_point now);

 private:
  struct Waiting {
    FrameBytes frame;
    ReplyFn reply;
    Clock::time_point deadline;
    bool resend;
    bool sent = false;
    std::error_code last_error;  // why its latest attempt failed; reported at the deadline
  };

  // A frame to write, and how much of it a caller's TrySendNow wrote already.
  struct OutFrame {
    FrameBytes frame;
    std::size_t written = 0;
  };

  asio::awaitable<void> ConnectLoop();
  asio::awaitable<std::error_code> ConnectOnce();
  // The loops hold their stream: a stream outlives the TLS operations still
  // winding down on it after a disconnect.
  asio::awaitable<void> ReadLoop(uint64_t generation, std::shared_ptr<wire::ByteStream> stream);
  asio::awaitable<void> WriteLoop(uint64_t generation, std::shared_ptr<wire::ByteStream> stream);
  // errc::plaintext_token_refused (the reason in attempt_) if the token must
  // not go to these addresses in clear (plaintext_token.h).
  std::error_code CheckPlaintextToken(const asio::ip::tcp::resolver::results_type& endpoints);
  void Write(FrameBytes frame) EXCLUDES(send_mu_);
  // Moves the requests callers sent into waiting_ (before it is searched or changed).
  void TakeSentDirectly() EXCLUDES(send_mu_);
  // Closes the send lane (no caller writes to the socket from now on) and clears its queue.
  void CloseSendLane() EXCLUDES(send_mu_);
  void Disconnect(std::error_code why);
  void Refuse(std::error_code why);
  void FailWaiting(std::error_code why);
  void Dispatch(const wire::Frame& frame);

  asio::io_context& io_;
  const ClientOptions& options_;
  ConnectionListener* listener_;
  std::string host_;
  std::string port_;
  const std::string token_;        // options.token, else $HERALD_TOKEN
  std::string server_name_;        // what the broker's certificate must name
  std::shared_ptr<asio::ssl::context> tls_;  // made at the first attempt (with options.tls)

  std::shared_ptr<wire::ByteStream> stream_;  // the current (or latest) one
  wire::FrameBuffer in_;
  asio::steady_timer write_wake_;
  asio::steady_timer reconnect_wake_;
  bool connected_ = false;
  bool stopped_ = false;
  std::string principal_;
  std::atomic<uint32_t> max_publish_bytes_{wire::kDefaultMaxPublishBytes};
  std::atomic<uint32_t> max_publish_messages_{wire::kDefaultMaxPublishMessages};
  std::error_code refused_;        // set while the broker refuses us (see refusal.h)
  RefusalDetail attempt_;          // what the latest attempt learned, for the log
  bool closed_hint_logged_ = false;
  uint64_t generation_ = 0;  // one per socket
  std::atomic<uint64_t> next_request_id_{1};
  std::map<uint64_t, Waiting> waiting_;  // ordered: resends go out oldest first

  Mutex send_mu_;
  std::deque<OutFrame> out_ GUARDED_BY(send_mu_);
  bool writing_ GUARDED_BY(send_mu_) = false;  // the write loop has a write in flight
  // The socket callers may write to: the current connection's, once its
  // handshake is done, if it is plain TCP; -1 otherwise. Reset before the
  // socket is closed, so that no caller writes to a closed (or reused) descriptor.
  int direct_fd_ GUARDED_BY(send_mu_) = -1;
  std::vector<std::pair<uint64_t, Waiting>> sent_directly_ GUARDED_BY(send_mu_);
};

}  // namespace herald::client_detail
