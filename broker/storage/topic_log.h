#pragma once
// TopicLog: the broker's LogReader (broker/storage/log_reader.h), the read
// side of one topic's log.
//
// Thread: the broker's I/O thread. Appends complete on the storage thread and
// are handed here (OnAppended) by the I/O thread in commit order, so end()
// only grows. The newest batches stay in a bounded tail cache: groups that
// keep up read from memory, and a batch fanned out to many groups is decoded
// once. Older offsets are read from RocksDB, and the batches read last are
// kept in a small read cache: a group draining a backlog reads each stored
// batch once, however small its reads, and groups reading the same stretch
// share them.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <vector>

#include "broker/status.h"
#include "broker/storage/log_reader.h"
#include "broker/storage/message_ref.h"

namespace herald::broker {

class Store;

class TopicLog final : public LogReader {
 public:
  // *store must outlive this TopicLog.
  TopicLog(Store* store, uint64_t topic_id, uint64_t earliest_offset, uint64_t next_offset,
           std::size_t tail_cache_bytes);

  uint64_t earliest() const override { return earliest_; }
  uint64_t end() const override { return end_; }

  void OnAppended(std::shared_ptr<const RecordBatch> batch) override;
  void OnTruncated(uint64_t earliest) override;
  std::optional<int64_t> TimestampAt(uint64_t offset) override;
  Status Read(uint64_t from, std::size_t max_messages, std::size_t max_bytes,
              std::vector<MessageRef>* out) override;

 private:
  Store* store_;
  uint64_t topic_id_;
  uint64_t earliest_;
  uint64_t end_;
  std::size_t tail_cache_bytes_;
  std::size_t cached_bytes_ = 0;
  std::deque<std::shared_ptr<const RecordBatch>> tail_;  // contiguous, ends at end_
  std::deque<std::shared_ptr<const RecordBatch>> read_cache_;  // most recent last
  std::size_t read_cache_bytes_ = 0;

  std::shared_ptr<const RecordBatch> FindCached(uint64_t offset) const;
  void RememberRead(std::shared_ptr<const RecordBatch> batch);
};

}  // namespace herald::broker
