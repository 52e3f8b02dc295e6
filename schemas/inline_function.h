#pragma once
// InlineFunction<R(Args...), N>: a move-only callable whose target lives
// inside it, in at most N bytes, never on the heap. For callbacks made per
// batch on the data path: std::function allocates for every target that is
// not trivially copyable (one capturing a shared_ptr or a string) or that is
// larger than two pointers. A target that does not fit is a compile error
// rather than a silent allocation.

#include <cstddef>
#include <functional>
#include <new>
#include <type_traits>
#include <utility>

namespace herald {

template <class Signature, std::size_t N>
class InlineFunction;

template <class R, class... Args, std::size_t N>
class InlineFunction<R(Args...), N> {
 public:
  InlineFunction() = default;
  InlineFunction(std::nullptr_t) {}  // NOLINT: as std::function
  template <class F, class D = std::decay_t<F>,
            class = std::enable_if_t<!std::is_same_v<D, InlineFunction> && std::is_invocable_r_v<R, D&, Args...>>>
  InlineFunction(F&& f) {  // NOLINT: implicit, as std::function
    static_assert(sizeof(D) <= N, "the callable does not fit in this InlineFunction: capture less");
    static_assert(alignof(D) <= alignof(std::max_align_t));
    static_assert(std::is_nothrow_move_constructible_v<D>, "moves happen in noexcept moves of the holder");
    ::new (static_cast<void*>(storage_)) D(std::forward<F>(f));
    ops_ = &kOps<D>;
  }
  InlineFunction(InlineFunction&& other) noexcept { TakeFrom(other); }
  InlineFunction& operator=(InlineFunction&& other) noexcept {
    if (this != &other) {
      Reset();
      TakeFrom(other);
    }
    return *this;
  }
  InlineFunction(const InlineFunction&) = delete;
  InlineFunction& operator=(const InlineFunction&) = delete;
  ~InlineFunction() { Reset(); }

  explicit operator bool() const { return ops_ != nullptr; }
  R operator()(Args... args) { return ops_->call(storage_, std::forward<Args>(args)...); }

 private:
  struct Ops {
    R (*call)(void* target, Args&&... args);
    void (*move)(void* to, void* from);  // move-constructs at `to`, destroys `from`
    void (*destroy)(void* target);
  };
  template <class D>
  static constexpr Ops kOps = {
      [](void* target, Args&&... args) -> R {
        return std::invoke(*static_cast<D*>(target), std::forward<Args>(args)...);
      },
      [](void* to, void* from) {
        ::new (to) D(std::move(*static_cast<D*>(from)));
        static_cast<D*>(from)->~D();
      },
      [](void* target) { static_cast<D*>(target)->~D(); },
  };

  void Reset() {
    if (ops_ != nullptr) ops_->destroy(storage_);
    ops_ = nullptr;
  }
  void TakeFrom(InlineFunction& other) {
    if (other.ops_ == nullptr) return;
    other.ops_->move(storage_, other.storage_);
    ops_ = std::exchange(other.ops_, nullptr);
  }

  alignas(std::max_align_t) unsigned char storage_[N];
  const Ops* ops_ = nullptr;
};

}  // namespace herald
