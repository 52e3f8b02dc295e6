#pragma once
// A handle to one stored message: the shared batch plus an index into it.
// Copying one costs a reference count, never the payload.

#include <cstdint>
#include <memory>

#include "broker/storage/record_batch.h"

namespace herald::broker {

struct MessageRef {
  std::shared_ptr<const RecordBatch> batch;
  uint32_t index = 0;

  uint64_t offset() const { return batch->base_offset() + index; }
  const RecordView& record() const { return batch->record(index); }
  int64_t timestamp_ms() const { return batch->timestamp_ms(); }
};

}  // namespace herald::broker
