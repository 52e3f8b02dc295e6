#pragma once
// SyncPipeline: with --fsync always, the syncs of written commits run on a
// thread of their own while the storage thread writes the next commit. The
// storage thread writes a commit (its batches to the segment file, its index
// entries to RocksDB and its WAL, neither synced), then hands the commit's
// completion here and goes on. This thread syncs everything written so far
// and then runs, in order, the completions of every commit that sync
// covered: a commit is acknowledged only once a sync that began after its
// writes has succeeded. So while one sync runs, the next commit is written,
// and the sync after it covers every commit written meanwhile.
//
// Thread: Submit, WaitForRoom and WaitIdle on the storage thread (the Store's writer);
// `sync` and every completion on the pipeline's thread.

#include <condition_variable>
#include <functional>
#include <thread>
#include <vector>

#include "broker/status.h"
#include "schemas/inline_function.h"
#include "schemas/thread_annotations.h"
#include "schemas/thread_name.h"

namespace herald::broker {

class SyncPipeline {
 public:
  // Held inline: handing a commit over allocates nothing.
  using Completion = InlineFunction<void(const Status&), 32>;

  // `sync` makes durable everything written before it was called.
  explicit SyncPipeline(std::function<Status()> sync)
      : sync_(std::move(sync)), thread_([this] {
          NameThisThread("commit-sync");
          Run();
        }) {}
  // Syncs and completes what was handed over, then stops.
  ~SyncPipeline() {
    {
      MutexLock lock(mu_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  SyncPipeline(const SyncPipeline&) = delete;
  SyncPipeline& operator=(const SyncPipeline&) = delete;

  // Runs `completion` with the status of a sync that begins after this call,
  // after every completion handed over before it.
  void Submit(Completion completion) EXCLUDES(mu_) {
    {
      MutexLock lock(mu_);
      queued_.push_back(std::move(completion));
    }
    wake_.notify_all();
  }

  // Returns once nothing handed over waits for a sync to begin: at most one
  // commit is written ahead of the sync in progress. The storage thread
  // waits here before it writes the next, so that the operations queued
  // meanwhile make one larger commit rather than many small writes.
  void WaitForRoom() EXCLUDES(mu_) {
    MutexLock lock(mu_);
    while (!queued_.empty()) idle_.wait(mu_);
  }

  // Returns once every completion handed over has run.
  void WaitIdle() EXCLUDES(mu_) {
    MutexLock lock(mu_);
    while (!queued_.empty() || running_) idle_.wait(mu_);
  }

 private:
  void Run() EXCLUDES(mu_) {
    std::vector<Completion> running;
    for (;;) {
      {
        MutexLock lock(mu_);
        while (queued_.empty() && !stopping_) wake_.wait(mu_);
        if (queued_.empty()) return;  // stopping, and nothing left
        running.swap(queued_);  // both keep their capacity
        running_ = true;
      }
      idle_.notify_all();  // room for the next commit (WaitForRoom)
      const Status status = sync_();
      for (Completion& completion : running) completion(status);
      running.clear();
      {
        MutexLock lock(mu_);
        running_ = false;
      }
      idle_.notify_all();
    }
  }

  const std::function<Status()> sync_;
  Mutex mu_;
  std::condition_variable_any wake_;
  std::condition_variable_any idle_;
  std::vector<Completion> queued_ GUARDED_BY(mu_);
  bool running_ GUARDED_BY(mu_) = false;
  bool stopping_ GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: starts once the rest is set up
};

}  // namespace herald::broker
