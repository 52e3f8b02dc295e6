#pragma once
// TopicLog: the broker's LogReader (broker/storage/log_reader.h), the read
// side of one topic's log.
//
// Thread: the broker's I/O thread. Appends complete on the storage thread and
// are handed here (OnAppended) by the I/O thread in commit order, so end()
// only grows. The newest batches stay in a bounded tail cache: groups that
// keep up read from memory (ReadCached, no thread hop), and a batch fanned
// out to many groups is decoded once. Older offsets are read from the store
// on a reader thread (ReadLater, through the ReadRunner), and the batches
// read last are kept in a small read cache: a group draining a backlog reads
// each stored batch once, however small its reads, and groups reading the
// same stretch share them. Only the I/O thread touches the caches: a reader
// thread reads the store and nothing of this object.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <vector>

#include "broker/status.h"
#include "broker/storage/log_reader.h"
#include "broker/storage/message_ref.h"
#include "broker/storage/read_runner.h"

namespace herald::broker {

class Store;

class TopicLog final : public LogReader {
 public:
  // *store and *reads must outlive every read this TopicLog starts (the
  // broker stops its reader threads before it closes the store).
  TopicLog(Store* store, ReadRunner* reads, uint64_t topic_id, uint64_t earliest_offset,
           uint64_t next_offset, std::size_t tail_cache_bytes);

  uint64_t earliest() const override { return earliest_; }
  uint64_t end() const override { return end_; }

  void OnAppended(std::shared_ptr<const RecordBatch> batch) override;
  void OnTruncated(uint64_t earliest) override;
  std::optional<int64_t> CachedTimestampAt(uint64_t offset) override;
  bool ReadCached(uint64_t from, std::size_t max_messages, std::size_t max_bytes,
                  std::vector<MessageRef>* out) override;
  void ReadLater(uint64_t from, std::size_t max_messages, std::size_t max_bytes,
                 ReadDone done) override;

 private:
  Store* store_;
  ReadRunner* reads_;
  uint64_t topic_id_;
  uint64_t earliest_;
  uint64_t end_;
  std::size_t tail_cache_bytes_;
  std::size_t cached_bytes_ = 0;
  std::deque<std::shared_ptr<const RecordBatch>> tail_;  // contiguous, ends at end_
  std::deque<std::shared_ptr<const RecordBatch>> read_cache_;  // most recent last
  std::size_t read_cache_bytes_ = 0;

  // Expires with this TopicLog: a read's completion that finds it expired
  // leaves the (deleted) log alone.
  std::shared_ptr<const bool> alive_ = std::make_shared<const bool>(true);

  std::shared_ptr<const RecordBatch> FindCached(uint64_t offset) const;
  void RememberRead(std::shared_ptr<const RecordBatch> batch);
  // ReadLater's completion: what a reader thread read from the store, cut to
  // the log as it is now, taken into *out and kept in the read cache.
  void TakeStored(uint64_t from, std::size_t max_messages, std::size_t max_bytes,
                  std::vector<std::shared_ptr<const RecordBatch>> read, std::vector<MessageRef>* out);
};

}  // namespace herald::broker
