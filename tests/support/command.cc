#include "tests/support/command.h"

#include <array>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <catch2/catch.hpp>
#include <sys/wait.h>

#include "tests/support/temp_dir.h"

namespace herald::test {

namespace {

// 'text' for /bin/sh: single quotes, each ' inside as '\''.
std::string ShellQuote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  return quoted + "'";
}

}  // namespace

CommandResult RunCommand(const std::string& shell_command, const std::string& stdin_path) {
  static TempDir dir("herald-command");
  static std::atomic<unsigned> n{0};
  const std::string err_path = dir / ("stderr-" + std::to_string(n++));
  const std::string cmd = "timeout 60 " + shell_command + " < " + ShellQuote(stdin_path) + " 2> " +
                          ShellQuote(err_path);
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  CommandResult r;
  std::array<char, 4096> buf;
  while (std::size_t got = std::fread(buf.data(), 1, buf.size(), p)) r.out.append(buf.data(), got);
  int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = ReadFile(err_path);
  std::error_code ec;
  std::filesystem::remove(err_path, ec);
  UNSCOPED_INFO(shell_command << " -> exit " << r.exit_code << "\nstdout: " << r.out << "\nstderr: " << r.err);
  return r;
}

CommandResult RunBrokerctl(const std::string& broker, const std::string& args, const std::string& stdin_path) {
  return RunCommand(std::string(HERALD_BROKERCTL_PATH) + " --broker " + broker + " " + args, stdin_path);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
}

}  // namespace herald::test
