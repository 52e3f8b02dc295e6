#pragma once
// ReadRunner: where the reads that may touch the disk run. The broker's I/O
// thread serves every connection, so a read of RocksDB or a segment file
// there would hold every client's acks and deliveries behind it: such a read
// runs on a reader thread instead, and what it found is handed back to the
// I/O thread. The broker's implementation is ReaderPool (state/reader_pool.h);
// tests may run the jobs wherever they like.

#include <functional>

namespace herald::broker {

class ReadRunner {
 public:
  // Runs on the I/O thread with what the read found.
  using Completion = std::function<void()>;
  // Runs on a reader thread: reads (from the store only: never state of the
  // I/O thread) and returns the completion that takes the result.
  using Job = std::function<Completion()>;

  virtual ~ReadRunner() = default;

  // Runs job() on a reader thread, then its completion on the I/O thread.
  // Neither runs within this call. Jobs may run side by side and complete in
  // any order. Once the broker stops, a job or completion may never run (it
  // is destroyed instead).
  virtual void Run(Job job) = 0;
};

}  // namespace herald::broker
