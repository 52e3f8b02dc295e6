#pragma once
// Running a command line as an operator or a script would (brokerctl, a
// headless browser), and reading and writing whole files.

#include <string>

namespace herald::test {

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs `shell_command` through /bin/sh, bounded by `timeout 60` (which then
// exits 124; -1 if a signal ended it), with stdin from `stdin_path` (default
// /dev/null: no terminal, as in a script) and stdout and stderr captured
// apart. `shell_command` is one simple command (the timeout applies to its
// first word); its arguments are shell syntax, so quote them as a shell
// would. The command and what it printed are noted with UNSCOPED_INFO, shown
// with the next failed assertion.
CommandResult RunCommand(const std::string& shell_command, const std::string& stdin_path = "/dev/null");

// The build's brokerctl with `--broker BROKER ARGS` (BROKER: HOST:PORT or a
// herald:// or nats:// URL), as RunCommand runs it.
CommandResult RunBrokerctl(const std::string& broker, const std::string& args,
                           const std::string& stdin_path = "/dev/null");

// The whole file ("" if it cannot be read).
std::string ReadFile(const std::string& path);
// Creates or truncates `path` and writes `content` as is (binary).
void WriteFile(const std::string& path, const std::string& content);

}  // namespace herald::test
