#pragma once
// IntervalSyncer: a thread that calls `sync` every `interval` while it lives
// (--fsync interval: the store's syncs of its segment file and WAL). The
// storage thread did those syncs between commits before, and every commit
// that came during one waited for it: those were the interval latency run's
// p99.
//
// Thread: its own runs `sync`; construction and destruction (which stops and
// joins it) on the owner's.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <thread>

#include "schemas/thread_annotations.h"
#include "schemas/thread_name.h"

namespace herald::broker {

class IntervalSyncer {
 public:
  IntervalSyncer(std::chrono::milliseconds interval, std::function<void()> sync)
      : interval_(interval), sync_(std::move(sync)), thread_([this] {
        NameThisThread("interval-sync");
        Run();
      }) {}
  ~IntervalSyncer() {
    {
      MutexLock lock(mu_);
      stopping_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }

  IntervalSyncer(const IntervalSyncer&) = delete;
  IntervalSyncer& operator=(const IntervalSyncer&) = delete;

 private:
  void Run() {
    MutexLock lock(mu_);
    while (!stopping_) {
      cv_.wait_for(mu_, interval_);
      if (!stopping_) sync_();
    }
  }

  const std::chrono::milliseconds interval_;
  const std::function<void()> sync_;
  Mutex mu_;
  std::condition_variable_any cv_;
  bool stopping_ GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: starts once the rest is set up
};

}  // namespace herald::broker
