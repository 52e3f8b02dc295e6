#pragma once
// What the fuzz targets share: CHECK (aborts, so libFuzzer and the replay
// test see a crash) and the switch for known bugs.
//
// A known bug is one a target has found that is not fixed yet. The target
// steps around it by default, so that fuzzing goes on finding other things,
// and exits on it when HERALD_FUZZ_STRICT=1: the CTest tests
// fuzz_known_bug_* replay tests/fuzz/known-bugs/ that way and pass while the
// target reports "known bug still there"; once the bug is fixed they fail.

#include <cstdio>
#include <cstdlib>

namespace herald::fuzz {

[[noreturn]] inline void Fail(const char* file, int line, const char* what) {
  std::fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
  std::abort();
}

inline bool Strict() {
  static const bool strict = [] {
    const char* v = std::getenv("HERALD_FUZZ_STRICT");
    return v != nullptr && v[0] == '1';
  }();
  return strict;
}

[[noreturn]] inline void KnownBug(const char* file, int line, const char* what) {
  std::fprintf(stderr, "%s:%d: known bug still there: %s\n", file, line, what);
  std::fflush(stderr);
  std::_Exit(86);
}

}  // namespace herald::fuzz

#define CHECK(cond)                                              \
  do {                                                           \
    if (!(cond)) ::herald::fuzz::Fail(__FILE__, __LINE__, #cond); \
  } while (0)

// A known bug: exits (code 86, "known bug still there") in strict mode;
// otherwise evaluates to whether it happened, for the caller to step around it.
#define KNOWN_BUG(cond, what) \
  ((cond) && (::herald::fuzz::Strict() ? (::herald::fuzz::KnownBug(__FILE__, __LINE__, what), true) : true))
