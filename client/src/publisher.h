#pragma once
// Publisher: turns Publish() calls into batched, sequenced Publish frames.
//
// Publish() (any thread) with nothing of this publisher in flight (queued,
// being drained, or waiting for its ack) sends its message as a batch of one,
// from the calling thread, when the connection lets it
// (Connection::TrySendNow): one request at a time then costs no wake-up of
// the I/O thread to send, and a burst only its first message. Otherwise it
// appends to a queue and posts one drain to the I/O thread; the drain packs everything queued per topic into frames of up to
// max_batch_bytes, so a burst of publishes costs a few frames, a few broker
// writes and a few fsyncs. With idempotence each frame carries the client's
// producer id and the sequence of its first message; the frame is kept until
// its ack and sent again unchanged after a reconnect, so the broker can tell
// a retry from new data.
//
// Thread: Publish/Flush from any thread (SendAlone on the publishing thread,
// under mu_); the rest on the client's I/O thread.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <asio/io_context.hpp>

#include "connection.h"
#include "herald/client.h"
#include "schemas/thread_annotations.h"

namespace herald::client_detail {

class Publisher {
 public:
  Publisher(asio::io_context& io, Connection& connection, const ClientOptions& options);

  void Publish(const std::string& topic, Message message, PublishCallback done);
  // Waits until every publish issued before the call has completed.
  std::error_code Flush(std::chrono::milliseconds timeout);
  // I/O thread: fails whatever was never handed to the connection.
  void FailQueued(std::error_code error);

 private:
  struct Pending {
    uint32_t topic;  // index into the topics of the queue it was queued with
    Message message;
    PublishCallback done;
    uint64_t ticket;
    std::size_t bytes;
  };

  void Drain();
  // A batch being filled by Drain, one per topic.
  struct OpenBatch {
    std::vector<Pending> items;
    std::size_t bytes = 0;
  };
  // The caller's thread: sends `p` alone if the connection lets it, and
  // returns true; else returns false, and `p` is as it was.
  bool SendAlone(const std::string& topic, Pending& p) REQUIRES(mu_);
  void SendBatch(const std::string& topic, std::vector<Pending>&& batch) EXCLUDES(mu_);
  FrameBytes BuildFrame(const std::string& topic, const std::vector<Pending>& batch, uint64_t base_sequence,
                        uint64_t request_id);
  // Completes the batch's publishes with the broker's reply (I/O thread).
  ReplyFn ReplyTo(std::shared_ptr<std::vector<Pending>> batch);
  void Complete(std::vector<Pending>& batch, const std::vector<PublishResult>& results);

  asio::io_context& io_;
  Connection& connection_;
  const ClientOptions& options_;
  const uint64_t producer_id_;

  Mutex mu_;
  std::condition_variable_any completed_cv_;
  // Publishes not yet handed to the I/O thread, and the topics they name
  // (each once: a message holds its topic's index, not a copy of the name).
  // Drain swaps both with its own, so that all four keep their capacity.
  std::vector<Pending> queue_ GUARDED_BY(mu_);
  std::vector<std::string> queue_topics_ GUARDED_BY(mu_);
  std::vector<Pending> draining_;              // I/O thread
  std::vector<std::string> draining_topics_;   // I/O thread
  std::vector<OpenBatch> open_batches_;        // I/O thread: Drain's, by topic index
  bool drain_posted_ GUARDED_BY(mu_) = false;
  std::size_t pending_bytes_ GUARDED_BY(mu_) = 0;  // queued or unacked
  uint64_t next_ticket_ GUARDED_BY(mu_) = 0;
  uint64_t first_open_ticket_ GUARDED_BY(mu_) = 0;  // every ticket below is complete
  std::deque<uint8_t> ticket_done_ GUARDED_BY(mu_);  // from first_open_ticket_ on

  // The next sequence per topic, taken by SendAlone and Drain, which never
  // overlap (SendAlone runs only when every ticket is complete, and what
  // Drain holds is not), so sequences go out in order.
  std::unordered_map<std::string, uint64_t> next_sequence_ GUARDED_BY(mu_);
};

}  // namespace herald::client_detail
