#pragma once
// SideSync: one sync at a time on a thread of its own, started by one thread
// and waited for by the same one. With --fsync always the storage thread
// starts the segment file's fdatasync here, writes and syncs the index's WAL
// meanwhile, then waits: a commit takes the longer of the two syncs rather
// than their sum.
//
// That the index may become durable a moment before the bytes it locates is
// the case recovery already handles (store_recovery.cc, step 5): only the
// newest segment file can lack synced bytes, since a commit is acknowledged
// after both syncs and the next one starts after that, and its batches are
// read back and CRC-checked at start, the log cut at the first bad one.
//
// Thread: Start and Wait on the owner's thread (the storage thread); `sync`
// runs on SideSync's.

#include <condition_variable>
#include <functional>
#include <thread>

#include "schemas/thread_annotations.h"
#include "schemas/thread_name.h"

namespace herald::broker {

class SideSync {
 public:
  // sync(): 0 or the errno of the sync that failed.
  explicit SideSync(std::function<int()> sync) : sync_(std::move(sync)), thread_([this] {
        NameThisThread("segment-sync");
        Run();
      }) {}
  ~SideSync() {
    {
      MutexLock lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  SideSync(const SideSync&) = delete;
  SideSync& operator=(const SideSync&) = delete;

  void Start() {
    {
      MutexLock lock(mu_);
      requested_ = true;
      done_ = false;
    }
    cv_.notify_all();
  }
  // The result of the sync Start began.
  int Wait() {
    MutexLock lock(mu_);
    while (!done_) cv_.wait(mu_);
    return result_;
  }

 private:
  void Run() {
    for (;;) {
      {
        MutexLock lock(mu_);
        while (!requested_ && !stopping_) cv_.wait(mu_);
        if (stopping_) return;
        requested_ = false;
      }
      const int result = sync_();
      {
        MutexLock lock(mu_);
        result_ = result;
        done_ = true;
      }
      cv_.notify_all();
    }
  }

  const std::function<int()> sync_;
  Mutex mu_;
  std::condition_variable_any cv_;
  bool requested_ GUARDED_BY(mu_) = false;
  bool done_ GUARDED_BY(mu_) = true;
  int result_ GUARDED_BY(mu_) = 0;
  bool stopping_ GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: starts once the rest is set up
};

}  // namespace herald::broker
