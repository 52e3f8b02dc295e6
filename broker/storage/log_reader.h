#pragma once
// LogReader: the read side of one topic's log, as the dispatcher sees it. The
// dispatcher (broker/dispatch) knows storage only through this interface and
// the value types it hands out (MessageRef, RecordBatch), so that it can be
// tested against a log in memory. TopicLog is the broker's implementation.
//
// Thread: the broker's I/O thread. The log learns what became durable
// (OnAppended, in commit order, so end() only grows) and what retention or a
// purge removed (OnTruncated) from the topic that owns it.
//
// Reads come in two kinds, so that the I/O thread never waits for the disk:
// ReadCached answers at once from what the log holds in memory (the tail of
// the log, which groups that keep up read), and ReadLater reads elsewhere and
// answers later, on the I/O thread.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "broker/status.h"
#include "broker/storage/message_ref.h"

namespace herald::broker {

class LogReader {
 public:
  virtual ~LogReader() = default;

  // Offsets [earliest(), end()) are in the log.
  virtual uint64_t earliest() const = 0;
  virtual uint64_t end() const = 0;

  // REQUIRES: batch->base_offset() == end().
  virtual void OnAppended(std::shared_ptr<const RecordBatch> batch) = 0;
  // Retention or a purge removed the offsets below `earliest`.
  virtual void OnTruncated(uint64_t earliest) = 0;
  // Broker time of the message at `offset` if memory holds it; nullopt if it
  // does not, or if the offset is not in the log. Never reads the disk.
  virtual std::optional<int64_t> CachedTimestampAt(uint64_t offset) = 0;

  // Reads the messages from `from` on (from earliest() if it is below), up
  // to max_messages or about max_bytes of payload, whichever comes first (at
  // least one message if any is at `from`).
  //
  // If memory holds the message at `from`, or the read is at or past end(),
  // appends to *out what memory holds from there on (it may stop early, where
  // memory does) and returns true. Otherwise appends nothing and returns
  // false: the caller reads with ReadLater.
  virtual bool ReadCached(uint64_t from, std::size_t max_messages, std::size_t max_bytes,
                          std::vector<MessageRef>* out) = 0;

  // done(status, messages): on the I/O thread, never within the call.
  using ReadDone = std::function<void(Status, std::vector<MessageRef>)>;
  // The same read, wherever the messages are, done off the I/O thread. The
  // messages are those of the log as of the completion: none at or past
  // end(), none below earliest(); so they may start after `from`, where a
  // truncation removed what was there. done runs even if the log is gone by
  // then (the topic was deleted), with an error and no messages; it must not
  // touch the log then.
  virtual void ReadLater(uint64_t from, std::size_t max_messages, std::size_t max_bytes,
                         ReadDone done) = 0;
};

}  // namespace herald::broker
