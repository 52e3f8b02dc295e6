#pragma once
// IoHandoff: work another thread hands to the I/O thread, run there in the
// order it was handed over and in bulk. The storage thread completes a group
// commit's appends one after another; each completion is queued here, and
// only the first of a burst posts to the io_context. So a commit of many
// batches wakes the I/O thread once, and, once the queues have grown to a
// burst's size, hands over its completions without a heap allocation: Work
// holds its target inline, and the one post per burst takes its memory from
// a block kept here (at most one drain is posted at a time), not from the
// heap, nor from asio's per-thread cache, which the I/O thread's own socket
// operations use.
//
// Order: one queue for every completion, so that the topics see their
// batches in commit order (TopicLog::OnAppended needs a dense log).

#include <atomic>
#include <cstddef>
#include <vector>

#include <asio/io_context.hpp>

#include "schemas/inline_function.h"
#include "schemas/thread_annotations.h"

namespace herald::broker {

class IoHandoff {
 public:
  // Large enough for a publish's reply state and its AppendResult.
  using Work = InlineFunction<void(), 192>;

  explicit IoHandoff(asio::io_context& io) : io_(io) {}
  IoHandoff(const IoHandoff&) = delete;
  IoHandoff& operator=(const IoHandoff&) = delete;

  // Any thread. Runs `work` on the I/O thread, after everything handed over
  // before it. Work still queued when the io_context stops never runs.
  void Post(Work work) EXCLUDES(mu_);

 private:
  void RunQueued() EXCLUDES(mu_);  // the I/O thread

  // The memory of the posted drain: asio allocates its operation through
  // the handler's allocator (PostAllocator, io_handoff.cc).
  struct PostBlock {
    alignas(std::max_align_t) unsigned char bytes[128];
    std::atomic<bool> in_use{false};
  };
  template <class T>
  friend class PostAllocator;

  asio::io_context& io_;
  PostBlock post_block_;
  Mutex mu_;
  std::vector<Work> queued_ GUARDED_BY(mu_);
  bool drain_posted_ GUARDED_BY(mu_) = false;
  // Swapped with queued_ by RunQueued, so that both keep their capacity.
  std::vector<Work> running_;
};

}  // namespace herald::broker
