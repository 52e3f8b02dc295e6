#pragma once
// ElasticThreadPool: httplib's task queue with threads started on demand, up
// to a maximum. httplib's own pool has a fixed max(8, cores - 1) threads and
// serves one connection per thread, so eight slow clients stopped a service;
// here a connection waits only when max_threads are busy, and a quiet service
// keeps few threads.

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include <httplib.h>

namespace herald::services {

class ElasticThreadPool final : public httplib::TaskQueue {
 public:
  explicit ElasticThreadPool(std::size_t max_threads) : max_threads_(max_threads < 1 ? 1 : max_threads) {}
  ~ElasticThreadPool() override { shutdown(); }

  void enqueue(std::function<void()> fn) override;
  // Runs what is queued, then joins every thread.
  void shutdown() override;

 private:
  void Work();

  const std::size_t max_threads_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;  // guarded by mu_
  std::vector<std::thread> threads_;        // guarded by mu_
  std::size_t idle_ = 0;                    // guarded by mu_: threads waiting for a job
  bool stopping_ = false;                   // guarded by mu_
};

}  // namespace herald::services
