#pragma once
// What the NATS backend's parts (nats_backend.cc, nats_publisher.cc) share:
// the name mapping, libnats status -> herald::errc, message building, the
// connection (Core) and the callback thread.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>

#include <nats/nats.h>

#include "herald/client.h"
#include "schemas/thread_annotations.h"

namespace herald::client_detail::nats {

inline int64_t Ns(std::chrono::milliseconds ms) { return static_cast<int64_t>(ms.count()) * 1000000; }

// Stream and consumer names may not contain '.' (nor ' ', '*', '>', path
// separators); Herald names are [A-Za-z0-9._-]. The mapping escapes '.' as
// "_2E" and '_' as "_5F" and keeps the rest, so it is one to one:
// "orders.dlq" -> "orders_2Edlq", "a_b" -> "a_5Fb".
std::string StreamName(std::string_view name);
// Undoes StreamName.
std::string HeraldName(std::string_view stream_name);

// A topic is also the stream's subject, so its dot-separated tokens must be non-empty.
bool ValidTopic(const std::string& topic);

std::error_code FromNats(natsStatus s, jsErrCode jerr = static_cast<jsErrCode>(0));

// A natsMsg for `subject` with the message's key (header Herald-Key), headers
// and payload. On failure *out stays null.
natsStatus BuildMsg(natsMsg** out, const std::string& subject, const Message& m);
inline constexpr char kKeyHeader[] = "Herald-Key";
// A header whose value is empty travels as one "Herald-Empty: NAME" instead:
// libnats (3.4) reads "NAME: " followed by the next header line as one header
// whose value is that line, losing the next header.
inline constexpr char kEmptyHeader[] = "Herald-Empty";

// Runs posted functions one at a time, in order, on one thread. The
// destructor runs what is queued, then joins.
class CallbackThread {
 public:
  CallbackThread();
  ~CallbackThread();
  CallbackThread(const CallbackThread&) = delete;
  CallbackThread& operator=(const CallbackThread&) = delete;
  void Post(std::function<void()> f);
  bool OnThread() const { return std::this_thread::get_id() == id_.load(); }

 private:
  void Run();

  Mutex mu_;
  std::condition_variable_any cv_;
  std::deque<std::function<void()>> queue_ GUARDED_BY(mu_);
  bool stop_ GUARDED_BY(mu_) = false;
  std::atomic<std::thread::id> id_{};
  std::thread thread_;
};

// The connection, shared with the deliveries a user may still hold.
struct Core {
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;  // admin requests, acks; publishes have their own (nats_publisher.h)
  int64_t replicas = 1;
  // How long an admin request (a stream's info or creation) may take: the
  // client's request_timeout. js's own wait is capped at 5 s for acks, and a
  // new R3 stream on a loaded cluster took longer (a CI run under ASan).
  int64_t admin_wait_ms = 5000;
  std::string producer_id;
  Core() = default;
  Core(const Core&) = delete;
  Core& operator=(const Core&) = delete;
  ~Core();

  // Creates the stream of `topic` if there is none. created: whether it did.
  std::error_code EnsureStream(const std::string& topic, const Retention* retention, bool* created);

  // Runs an admin request that is safe to repeat (a look, or a creation that
  // JetStream accepts again with the same config) until it gets an answer
  // other than "no answer yet", or admin_wait_ms is spent. Each try waits at
  // most kAdminTryWait for its answer. Why: a JetStream cluster may drop an
  // API request while it is loaded or changing leaders, and then the caller
  // waits out its whole budget for a reply that never comes (a CI run: a new
  // stream on a 3-node cluster got no answer in 30 s; asked again, it would).
  natsStatus RepeatableAdmin(const std::function<natsStatus(jsOptions*, jsErrCode*)>& request, jsErrCode* jerr) const;
};

// Whether an admin answer means "ask again": no answer in time, no JetStream
// listening yet, or the cluster's "temporarily unavailable" / "no leader".
bool TransientAdminFailure(natsStatus s, jsErrCode jerr);

}  // namespace herald::client_detail::nats
