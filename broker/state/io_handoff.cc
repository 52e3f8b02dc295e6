#include "broker/state/io_handoff.h"

#include <cstddef>
#include <memory>
#include <utility>

#include <asio/bind_allocator.hpp>
#include <asio/post.hpp>

namespace herald::broker {

// Hands out IoHandoff::post_block_ when it is free and large enough, else
// the heap. Allocation happens in Post (any thread) and the release on the
// I/O thread before the drain runs; in_use orders the two.
template <class T>
class PostAllocator {
 public:
  using value_type = T;
  explicit PostAllocator(IoHandoff::PostBlock* block) : block_(block) {}
  template <class U>
  PostAllocator(const PostAllocator<U>& other) : block_(other.block_) {}  // NOLINT: rebinding

  T* allocate(std::size_t n) {
    if (n * sizeof(T) <= sizeof(block_->bytes) && alignof(T) <= alignof(std::max_align_t) &&
        !block_->in_use.exchange(true, std::memory_order_acquire)) {
      return reinterpret_cast<T*>(block_->bytes);
    }
    return std::allocator<T>().allocate(n);
  }
  void deallocate(T* p, std::size_t n) {
    if (static_cast<void*>(p) == static_cast<void*>(block_->bytes)) {
      block_->in_use.store(false, std::memory_order_release);
      return;
    }
    std::allocator<T>().deallocate(p, n);
  }
  template <class U>
  bool operator==(const PostAllocator<U>& other) const { return block_ == other.block_; }

 private:
  template <class U>
  friend class PostAllocator;
  IoHandoff::PostBlock* block_;
};

void IoHandoff::Post(Work work) {
  {
    MutexLock lock(mu_);
    queued_.push_back(std::move(work));
    if (std::exchange(drain_posted_, true)) return;
  }
  asio::post(io_, asio::bind_allocator(PostAllocator<void>(&post_block_), [this] { RunQueued(); }));
}

void IoHandoff::RunQueued() {
  {
    MutexLock lock(mu_);
    queued_.swap(running_);
    drain_posted_ = false;
  }
  for (Work& work : running_) work();
  running_.clear();
}

}  // namespace herald::broker
