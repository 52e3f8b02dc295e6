#pragma once
// LogReader: the read side of one topic's log, as the dispatcher sees it. The
// dispatcher (broker/dispatch) knows storage only through this interface and
// the value types it hands out (MessageRef, RecordBatch), so that it can be
// tested against a log in memory. TopicLog is the broker's implementation.
//
// Thread: the broker's I/O thread. The log learns what became durable
// (OnAppended, in commit order, so end() only grows) and what retention or a
// purge removed (OnTruncated) from the topic that owns it.

#include <cstddef>
#include <cstdint>
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
  // Broker time of the message at `offset`; nullopt if it is not in the log.
  virtual std::optional<int64_t> TimestampAt(uint64_t offset) = 0;

  // Appends to *out the messages from `from` on, up to max_messages or about
  // max_bytes of payload, whichever comes first (at least one message if
  // any is at `from`).
  virtual Status Read(uint64_t from, std::size_t max_messages, std::size_t max_bytes,
                      std::vector<MessageRef>* out) = 0;
};

}  // namespace herald::broker
