#pragma once
// Clang thread-safety annotations: a comment saying which mutex guards a
// field, or which lock a function needs, becomes a contract clang checks with
// -Wthread-safety. Other compilers see nothing.
//
// Use them on std::mutex through herald::Mutex / herald::MutexLock below:
// libstdc++'s std::mutex carries no capability attribute, so clang cannot
// check a GUARDED_BY(std::mutex) field.

#include <condition_variable>
#include <mutex>

#if defined(__clang__)
#define HERALD_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define HERALD_THREAD_ANNOTATION(x)
#endif

#define CAPABILITY(x) HERALD_THREAD_ANNOTATION(capability(x))
#define SCOPED_CAPABILITY HERALD_THREAD_ANNOTATION(scoped_lockable)
#define GUARDED_BY(x) HERALD_THREAD_ANNOTATION(guarded_by(x))
#define PT_GUARDED_BY(x) HERALD_THREAD_ANNOTATION(pt_guarded_by(x))
#define ACQUIRED_BEFORE(...) HERALD_THREAD_ANNOTATION(acquired_before(__VA_ARGS__))
#define ACQUIRED_AFTER(...) HERALD_THREAD_ANNOTATION(acquired_after(__VA_ARGS__))
#define REQUIRES(...) HERALD_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define REQUIRES_SHARED(...) HERALD_THREAD_ANNOTATION(requires_shared_capability(__VA_ARGS__))
#define ACQUIRE(...) HERALD_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define RELEASE(...) HERALD_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) HERALD_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
#define EXCLUDES(...) HERALD_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define ASSERT_CAPABILITY(x) HERALD_THREAD_ANNOTATION(assert_capability(x))
#define RETURN_CAPABILITY(x) HERALD_THREAD_ANNOTATION(lock_returned(x))
#define NO_THREAD_SAFETY_ANALYSIS HERALD_THREAD_ANNOTATION(no_thread_safety_analysis)

namespace herald {

// A std::mutex clang can reason about.
class CAPABILITY("mutex") Mutex {
 public:
  void lock() ACQUIRE() { mu_.lock(); }
  void unlock() RELEASE() { mu_.unlock(); }
  bool try_lock() TRY_ACQUIRE(true) { return mu_.try_lock(); }
  std::mutex& native() { return mu_; }

 private:
  std::mutex mu_;
};

// std::lock_guard for Mutex, with the scope clang needs to see.
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  ~MutexLock() RELEASE() { mu_.unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex& mu_;
};

// A role that is not a lock: "runs on the storage thread", "runs on the I/O
// thread". A function that must run there REQUIRES(the role); the thread's
// entry point asserts it once (AssertHeld), and fields only that thread
// touches are GUARDED_BY(it). Zero cost: it has no state.
class CAPABILITY("role") ThreadRole {
 public:
  void AssertHeld() const ASSERT_CAPABILITY(this) {}
};

}  // namespace herald
