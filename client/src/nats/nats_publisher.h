#pragma once
// NatsPublisher: Client::Publish on JetStream, pipelined. Up to kMaxInFlight
// publishes are on the wire at once (js_PublishMsgAsync on a JetStream context
// of its own, whose PubAck handler settles them); the rest wait in order.
//
// Idempotence: each message carries Nats-Msg-Id "<producer id>-<sequence>"
// (with ClientOptions::idempotent). A publish that fails in a way a retry can
// fix (no PubAck within kPubAckWait, no responders during an election, the
// connection down) is sent again, with the same id, 100 ms later, until
// request_timeout; PublishResult::duplicate is the PubAck's flag. While retries
// wait, no newer message is sent, so retries go out before them, in order; a
// message that is retried can still land after newer ones that were already in
// flight. A stream that refuses a message (too large, ...) fails it at once; no
// stream for the topic fails it with errc::topic_not_found.
//
// Threads: Publish and Flush from any thread; one sender thread hands messages
// to libnats; libnats' PubAck thread calls OnAck. Every completion runs on the
// client's callback thread. Lock: mu_ guards everything below it; it is never
// held while calling into libnats except natsMsg_Destroy. libnats can run
// OnAck for an attempt (its MaxWait timer) before js_PublishMsgAsync returned;
// OnAck then waits for the sender to be done with the message (sending_).

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <system_error>
#include <thread>
#include <unordered_map>

#include <nats/nats.h>

#include "herald/client.h"
#include "nats/nats_core.h"

namespace herald::client_detail::nats {

class NatsPublisher : public std::enable_shared_from_this<NatsPublisher> {
 public:
  static constexpr std::size_t kMaxInFlight = 1024;
  // How long one attempt waits for its PubAck: a PubAck lost with a server
  // that died takes this long to notice.
  static constexpr std::chrono::milliseconds kPubAckWait{2000};

  // *callbacks must outlive the publisher's callbacks (see Close).
  NatsPublisher(std::shared_ptr<Core> core, const ClientOptions& options, CallbackThread* callbacks);
  ~NatsPublisher();
  NatsPublisher(const NatsPublisher&) = delete;
  NatsPublisher& operator=(const NatsPublisher&) = delete;

  // Never blocks; `done` runs on the callback thread. The caller has checked the topic.
  void Publish(const std::string& topic, Message message, PublishCallback done);
  // Waits until every publish issued before the call has run its callback.
  std::error_code Flush(std::chrono::milliseconds timeout);
  // Stops sending, waits (bounded by kPubAckWait) for the PubAcks of what is
  // in flight and fails everything else with errc::client_closed. The
  // completions are posted to the callback thread and use this object: run
  // them (destroy the CallbackThread) before destroying the publisher.
  void Close();

 private:
  using Clock = std::chrono::steady_clock;
  struct Entry {
    natsMsg* msg = nullptr;  // owned here while not handed to libnats
    std::string topic;
    PublishCallback done;
    Clock::time_point deadline;
    std::size_t bytes = 0;
    std::error_code last_error;
    bool check_stream = false;  // no responders: does the topic still have a stream?
  };

  static void OnAckThunk(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure);
  void OnAck(natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae);
  void Run();
  // The next message to send (retries first, oldest first); 0 if none now,
  // with *wake set to when to look again.
  uint64_t Next(Clock::time_point now, Clock::time_point* wake) REQUIRES(mu_);
  // Sends entry `seq` (or completes it if its time is up). Releases mu_
  // while libnats works.
  void Send(uint64_t seq) REQUIRES(mu_);
  // Another attempt in 100 ms, or the failure if that is past the deadline.
  void Retry(uint64_t seq, Clock::time_point now) REQUIRES(mu_);
  // Posts `done` with the result and forgets the entry.
  void Complete(uint64_t seq, PublishResult result) REQUIRES(mu_);
  void PostDone(uint64_t seq, PublishCallback done, PublishResult result);

  std::shared_ptr<Core> core_;
  ClientOptions options_;
  CallbackThread* callbacks_;
  jsCtx* js_ = nullptr;
  std::error_code setup_error_;

  Mutex mu_;
  std::condition_variable_any cv_;           // the sender: work to do, or closing
  std::condition_variable_any done_cv_;      // Flush and Close: callbacks ran, PubAcks came
  uint64_t next_seq_ GUARDED_BY(mu_) = 0;
  std::map<uint64_t, Entry> entries_ GUARDED_BY(mu_);  // accepted and not yet answered
  std::deque<uint64_t> queue_ GUARDED_BY(mu_);         // never sent
  std::map<uint64_t, Clock::time_point> retries_ GUARDED_BY(mu_);  // to send again, not before
  std::unordered_map<natsMsg*, uint64_t> in_flight_ GUARDED_BY(mu_);  // handed to libnats
  // Inside js_PublishMsgAsync now (OnAck waits for it).
  natsMsg* sending_ GUARDED_BY(mu_) = nullptr;
  std::condition_variable_any sent_cv_;
  std::set<uint64_t> unfinished_ GUARDED_BY(mu_);  // callback not yet run
  std::size_t bytes_ GUARDED_BY(mu_) = 0;
  bool closing_ GUARDED_BY(mu_) = false;
  // Set if PubAcks never came: libnats may still call OnAck.
  std::shared_ptr<NatsPublisher> leaked_ GUARDED_BY(mu_);
  std::thread sender_;
};

}  // namespace herald::client_detail::nats
