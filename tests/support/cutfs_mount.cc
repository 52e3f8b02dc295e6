#include "tests/support/cutfs_mount.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <array>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "tests/support/server_process.h"

namespace herald::test {

namespace {

bool Mounted(const std::string& mountpoint) {
  std::ifstream mounts("/proc/mounts");
  std::string device, dir, rest;
  while (mounts >> device >> dir && std::getline(mounts, rest))
    if (dir == mountpoint) return true;
  return false;
}

}  // namespace

CutMount::CutMount(const std::string& real, const std::string& graveyard, const std::string& mountpoint)
    : mountpoint_(mountpoint) {
  int in[2], out[2];
  REQUIRE(::pipe2(in, O_CLOEXEC) == 0);
  REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
  pid_ = ::fork();
  REQUIRE(pid_ >= 0);
  if (pid_ == 0) {
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::execl(HERALD_CUTFS_PATH, HERALD_CUTFS_PATH, real.c_str(), graveyard.c_str(), mountpoint.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  to_ = ::fdopen(in[1], "w");
  from_ = ::fdopen(out[0], "r");
  std::array<char, 256> line{};
  const bool ready = std::fgets(line.data(), line.size(), from_) != nullptr && std::strcmp(line.data(), "ready\n") == 0;
  if (!ready) {
    int status = 0;
    const bool exited = ::waitpid(pid_, &status, 0) == pid_;
    pid_ = -1;
    INFO("herald-cutfs did not report ready: "
         << (exited && WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status)) : "killed")
         << " (127: could not run " HERALD_CUTFS_PATH "; else its stderr above says why: /dev/fuse, fuse3, the mountpoint)");
    FAIL();
  }
  REQUIRE(Eventually([&] { return Mounted(mountpoint_); }, std::chrono::seconds(10)));
}

CutMount::~CutMount() {
  if (pid_ <= 0) {
    if (to_) std::fclose(to_);
    if (from_) std::fclose(from_);
    return;
  }
  // Lazy: a process killed a moment ago may still hold a file open here.
  std::string cmd = "fusermount3 -u -z '" + mountpoint_ + "'";
  if (std::system(cmd.c_str()) != 0) ::kill(pid_, SIGTERM);
  std::fclose(to_);
  int status = 0;
  if (!Eventually([&] { return ::waitpid(pid_, &status, WNOHANG) == pid_; }, std::chrono::seconds(10))) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
  }
  std::fclose(from_);
}

std::string CutMount::Command(const std::string& line) {
  std::fprintf(to_, "%s\n", line.c_str());
  std::fflush(to_);
  std::array<char, 512> reply{};
  if (std::fgets(reply.data(), reply.size(), from_) == nullptr) return "error: herald-cutfs closed its output";
  std::string r(reply.data());
  if (!r.empty() && r.back() == '\n') r.pop_back();
  return r;
}

}  // namespace herald::test
