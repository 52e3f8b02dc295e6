#pragma once
// ReaderPool: the broker's ReadRunner (storage/read_runner.h). Reads that may
// touch the disk (cold reads of a topic's log, fetches, offset-for-time and
// the timestamps group descriptions show) run on its threads, and their
// completions are posted to the I/O thread's io_context.
//
// Thread: Run() from the I/O thread (any thread would do). Jobs run on the
// pool's threads, completions on the I/O thread. Stop() joins the threads:
// the broker calls it before it closes the store the jobs read, and a job
// not started by then never runs.

#include <cstddef>

#include <asio/io_context.hpp>
#include <asio/thread_pool.hpp>

#include "broker/storage/read_runner.h"

namespace herald::broker {

class ReaderPool final : public ReadRunner {
 public:
  ReaderPool(asio::io_context& io, std::size_t threads);
  ~ReaderPool() override;

  void Run(Job job) override;
  // Abandons the jobs not started, waits for those running. Idempotent.
  void Stop();

 private:
  asio::io_context& io_;
  asio::thread_pool pool_;
};

}  // namespace herald::broker
