#pragma once
// CutMount: herald-cutfs (tests/support/cutfs) mounted for one test, as a
// child process driven through its stdin/stdout command lines. A power cut
// is Cut() then the destructor's unmount; the next CutMount over the same
// real directory shows what survived.

#include <cstdio>
#include <string>

#include <sys/types.h>

namespace herald::test {

class CutMount {
 public:
  // Mounts `real` (kept between mounts) at `mountpoint`; `graveyard` is an
  // empty directory on the same file system as `real`. REQUIREs success.
  CutMount(const std::string& real, const std::string& graveyard, const std::string& mountpoint);
  ~CutMount();  // unmounts and waits for the file system process
  CutMount(const CutMount&) = delete;
  CutMount& operator=(const CutMount&) = delete;

  const std::string& path() const { return mountpoint_; }
  // Sends one command line and returns its one-line reply ("ok ..." or "error ...").
  std::string Command(const std::string& line);

 private:
  std::string mountpoint_;
  pid_t pid_ = -1;
  FILE* to_ = nullptr;    // its stdin
  FILE* from_ = nullptr;  // its stdout
};

}  // namespace herald::test
