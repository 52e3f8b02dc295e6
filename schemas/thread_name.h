#pragma once
// Names the calling thread (at most 15 characters are kept), so that top -H,
// perf and /proc/PID/task/*/comm tell a process's threads apart.

#include <pthread.h>

namespace herald {

inline void NameThisThread(const char* name) { pthread_setname_np(pthread_self(), name); }

}  // namespace herald
