#include "tests/support/server_process.h"

#include <cstdlib>

#include <csignal>
#include <fstream>
#include <sstream>

#include <catch2/catch.hpp>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/support/command.h"

namespace herald::test {

namespace {
std::vector<std::string> BrokerArgs(std::vector<std::string> extra) {
  std::vector<std::string> args = {"--data-dir", "{dir}/data", "--log-level", "info"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}
}  // namespace

BrokerProcess::BrokerProcess(std::vector<std::string> extra_args, ProcessLimits limits)
    : ServerProcess(HERALD_BROKERD_PATH, BrokerArgs(std::move(extra_args)), limits) {}

ServerProcess::ServerProcess(std::string binary, std::vector<std::string> args, ProcessLimits limits)
    : dir_("herald-e2e"),
      binary_(std::move(binary)),
      port_file_(dir_ / "port"),
      log_file_(dir_ / "server.log"),
      args_(std::move(args)),
      limits_(limits) {
  for (auto& a : args_) {
    for (std::size_t at; (at = a.find("{dir}")) != std::string::npos;) a.replace(at, 5, dir_.str());
  }
  Start("127.0.0.1:0");
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) Kill();
}

void ServerProcess::Start(const std::string& listen) {
  std::filesystem::remove(port_file_);
  std::vector<std::string> args = {binary_, "--listen", listen, "--port-file", port_file_};
  args.insert(args.end(), args_.begin(), args_.end());
  pid_ = ::fork();
  REQUIRE(pid_ >= 0);
  if (pid_ == 0) {
    int fd = ::open(log_file_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    if (limits_.open_files > 0) {
      rlimit nofile{limits_.open_files, limits_.open_files};
      if (::setrlimit(RLIMIT_NOFILE, &nofile) != 0) ::_exit(126);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  // Wait for the port file, or for the process to die during start-up.
  bool up = Eventually(
      [&] {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
          pid_ = -1;
          return true;
        }
        std::ifstream in(port_file_);
        unsigned port = 0;
        if (in >> port && port > 0) {
          port_ = static_cast<uint16_t>(port);
          return true;
        }
        return false;
      },
      std::chrono::seconds(20));
  INFO(binary_ << " log:\n" << LogTail());
  REQUIRE(up);
  REQUIRE(pid_ > 0);  // it did not crash while starting
}

int ServerProcess::Stop(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int status = 0;
  bool exited = Eventually([&] { return ::waitpid(pid_, &status, WNOHANG) == pid_; }, timeout);
  if (!exited) {
    Kill();
    return -1;
  }
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void ServerProcess::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

void ServerProcess::Restart() {
  if (pid_ > 0) Stop();
  Start("127.0.0.1:" + std::to_string(port_));
}

std::size_t ServerProcess::RssBytes() const {
  if (pid_ <= 0) return 0;
  std::string status = ReadFile("/proc/" + std::to_string(pid_) + "/status");
  auto at = status.find("VmRSS:");
  if (at == std::string::npos) return 0;
  return std::strtoull(status.c_str() + at + 6, nullptr, 10) * 1024;  // "VmRSS:   1234 kB"
}

double ServerProcess::CpuSeconds() const {
  if (pid_ <= 0) return -1;
  // "pid (comm) state ppid ...": utime and stime are fields 14 and 15, in
  // clock ticks; comm may hold spaces, so count from the last ')'.
  std::string stat = ReadFile("/proc/" + std::to_string(pid_) + "/stat");
  auto close = stat.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream fields(stat.substr(close + 1));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return double(utime + stime) / double(::sysconf(_SC_CLK_TCK));
}

std::size_t ServerProcess::LogBytes() const {
  std::error_code ec;
  auto size = std::filesystem::file_size(log_file_, ec);
  return ec ? 0 : static_cast<std::size_t>(size);
}

std::string ServerProcess::LogTail(std::size_t bytes) const {
  std::string all = ReadFile(log_file_);
  return all.size() > bytes ? all.substr(all.size() - bytes) : all;
}

}  // namespace herald::test
