#pragma once
// The broker's I/O thread as a clang thread-safety role
// (schemas/thread_annotations.h). State only that thread touches is
// GUARDED_BY(kIoThread); functions that must run there are
// REQUIRES(kIoThread); and each place where the I/O thread enters such code
// (a public method of a class documented "Thread: the broker's I/O thread", a
// handler posted to the io_context, a callback the contract says runs there)
// says so once with kIoThread.AssertHeld(). clang then refuses a lambda or a
// helper that touches that state without having said which thread it is on.

#include "schemas/thread_annotations.h"

namespace herald::broker {

inline constexpr ThreadRole kIoThread{};

}  // namespace herald::broker
