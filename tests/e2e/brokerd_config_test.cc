// brokerd's configuration and logs, from the outside: --config files, flags
// that beat them, unknown keys, --print-config round trips, bad units, and
// --log-format json. Most runs here need the whole command line (ServerProcess
// always passes --listen and --data-dir itself), so this file starts brokerd
// by hand; BrokerProcess is used where its flags are the ones that should win.

#include <fstream>
#include <regex>
#include <sstream>

#include <catch2/catch.hpp>
#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "herald/client.h"
#include "tests/support/command.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"

using namespace std::chrono_literals;
using herald::test::BrokerProcess;
using herald::test::CommandResult;
using herald::test::Eventually;
using herald::test::ReadFile;
using herald::test::TempDir;
using herald::test::WriteFile;

namespace {

// brokerd with exactly `args`; stdout and stderr go to files in `dir`.
class Brokerd {
 public:
  Brokerd(const TempDir& dir, std::vector<std::string> args)
      : out_file_(dir / "stdout"), err_file_(dir / "stderr") {
    args.insert(args.begin(), HERALD_BROKERD_PATH);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      int out = ::open(out_file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int err = ::open(err_file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (out >= 0) ::dup2(out, 1);
      if (err >= 0) ::dup2(err, 2);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
  }
  ~Brokerd() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  Brokerd(const Brokerd&) = delete;
  Brokerd& operator=(const Brokerd&) = delete;

  bool running() {
    if (pid_ > 0 && ::waitpid(pid_, &status_, WNOHANG) == pid_) pid_ = -1;
    return pid_ > 0;
  }
  // The exit code once it exits; -1 if it is still running after `timeout` (then it is killed).
  int Wait(std::chrono::milliseconds timeout = 20s) {
    if (!Eventually([&] { return !running(); }, timeout)) return -1;
    return WIFEXITED(status_) ? WEXITSTATUS(status_) : 128 + WTERMSIG(status_);
  }
  int Stop() {
    if (pid_ > 0) ::kill(pid_, SIGTERM);
    return Wait();
  }
  std::string out() const { return ReadFile(out_file_); }
  std::string err() const { return ReadFile(err_file_); }

 private:
  std::string out_file_;
  std::string err_file_;
  pid_t pid_ = -1;
  int status_ = 0;
};

// For runs that end by themselves (--print-config, errors).
CommandResult RunBrokerd(std::vector<std::string> args) {
  TempDir dir("herald-brokerd-run");
  Brokerd brokerd(dir, std::move(args));
  CommandResult r;
  r.exit_code = brokerd.Wait();
  r.out = brokerd.out();
  r.err = brokerd.err();
  return r;
}

// Polls `port_file` until brokerd has written its port; 0 if it exited first.
uint16_t WaitForPort(Brokerd& brokerd, const std::string& port_file) {
  unsigned port = 0;
  Eventually(
      [&] {
        std::ifstream in(port_file);
        return (in >> port && port > 0) || !brokerd.running();
      },
      20s);
  return static_cast<uint16_t>(port);
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("brokerd config: a config file sets listen, port file, data dir and fsync", "[e2e][config]") {
  TempDir dir("herald-config");
  WriteFile(dir / "brokerd.toml",
            "# a comment\n"
            "listen = \"127.0.0.1:0\"\n"
            "port-file = \"" + (dir / "port") + "\"\n"
            "data-dir = \"" + (dir / "data") + "\"\n"
            "fsync = \"never\"\n");
  Brokerd brokerd(dir, {"--config", dir / "brokerd.toml"});
  uint16_t port = WaitForPort(brokerd, dir / "port");
  INFO("brokerd stderr:\n" << brokerd.err());
  REQUIRE(port > 0);
  CHECK(Contains(brokerd.err(), "fsync never"));

  herald::Client client({.broker = "127.0.0.1:" + std::to_string(port)});
  REQUIRE_FALSE(client.CreateTopic("t"));
  CHECK_FALSE(client.PublishSync("t", {.payload = "configured"}).error);
  CHECK(std::filesystem::is_directory(dir / "data"));
  CHECK(brokerd.Stop() == 0);
}

TEST_CASE("brokerd config: a flag on the command line beats the file", "[e2e][config]") {
  TempDir dir("herald-config");
  // 192.0.2.1 (TEST-NET-1) is nobody's address: brokerd could not bind it, so
  // it only starts if BrokerProcess's --listen wins.
  WriteFile(dir / "brokerd.toml",
            "listen = \"192.0.2.1:7400\"\n"
            "fsync = \"interval\"\n"
            "default-retention-age = \"1d\"\n"
            "default-max-deliveries = 3\n");

  auto printed = RunBrokerd({"--config", dir / "brokerd.toml", "--fsync", "never", "--default-retention-age", "12h",
                             "--print-config"});
  INFO("stderr: " << printed.err);
  REQUIRE(printed.exit_code == 0);
  CHECK(Contains(printed.out, "fsync = \"never\"\n"));
  CHECK(Contains(printed.out, "default-retention-age = \"12h\"\n"));
  CHECK(Contains(printed.out, "listen = \"192.0.2.1:7400\"\n"));  // not on the command line: the file's
  CHECK(Contains(printed.out, "default-max-deliveries = 3\n"));

  BrokerProcess broker({"--config", dir / "brokerd.toml", "--fsync", "never"});
  herald::Client client({.broker = broker.address()});
  REQUIRE_FALSE(client.CreateTopic("t"));
  CHECK_FALSE(client.PublishSync("t", {.payload = "x"}).error);
  CHECK(broker.Stop() == 0);
  CHECK(Contains(broker.LogTail(100'000), "fsync never"));
}

TEST_CASE("brokerd config: an unknown key stops brokerd with a message naming it", "[e2e][config]") {
  TempDir dir("herald-config");
  WriteFile(dir / "brokerd.toml", "fsync = \"never\"\nretention-age = \"7d\"\n");  // a typo of default-retention-age
  auto r = RunBrokerd({"--config", dir / "brokerd.toml", "--listen", "127.0.0.1:0", "--data-dir", dir / "data"});
  INFO("stderr: " << r.err);
  CHECK(r.exit_code == 2);
  CHECK(Contains(r.err, "'retention-age'"));
  CHECK_FALSE(std::filesystem::exists(dir / "data"));  // it never opened the store

  WriteFile(dir / "section.toml", "[broker]\nlisten = \"127.0.0.1:0\"\n");
  auto section = RunBrokerd({"--config", dir / "section.toml", "--print-config"});
  CHECK(section.exit_code == 2);
  CHECK(Contains(section.err, "broker"));

  auto missing = RunBrokerd({"--config", dir / "missing.toml"});
  CHECK(missing.exit_code == 2);
  CHECK(Contains(missing.err, "missing.toml"));
}

TEST_CASE("brokerd config: --print-config output is accepted back by --config", "[e2e][config]") {
  auto defaults = RunBrokerd({"--print-config"});
  INFO("stderr: " << defaults.err);
  REQUIRE(defaults.exit_code == 0);
  CHECK(Contains(defaults.out, "default-retention-age = \"7d\"\n"));
  CHECK(Contains(defaults.out, "retention-interval = \"10s\"\n"));
  CHECK(Contains(defaults.out, "default-max-deliveries = 10\n"));
  CHECK(Contains(defaults.out, "metrics-listen = \"\"\n"));
  CHECK(Contains(defaults.out, "log-format = \"text\"\n"));
  CHECK(Contains(defaults.out, "max-pending-connections = 256\n"));

  TempDir dir("herald-config");
  auto first = RunBrokerd({"--print-config", "--fsync", "interval", "--default-backoff", "1s,5s,30s",
                           "--default-retention-bytes", "512MiB", "--default-retention-messages", "1000",
                           "--metrics-listen", "127.0.0.1:0", "--port-file", dir / "a \"quoted\" name"});
  INFO("first stderr: " << first.err);
  REQUIRE(first.exit_code == 0);
  CHECK(Contains(first.out, "default-backoff = [\"1s\", \"5s\", \"30s\"]\n"));
  CHECK(Contains(first.out, "default-retention-bytes = \"512MiB\"\n"));
  WriteFile(dir / "printed.toml", first.out);

  auto second = RunBrokerd({"--config", dir / "printed.toml", "--print-config"});
  INFO("second stderr: " << second.err);
  REQUIRE(second.exit_code == 0);
  CHECK(second.out == first.out);

  // And a broker runs with it (BrokerProcess's --listen, --port-file and --data-dir win).
  BrokerProcess broker({"--config", dir / "printed.toml"});
  herald::Client client({.broker = broker.address()});
  REQUIRE_FALSE(client.CreateTopic("t"));
  CHECK_FALSE(client.PublishSync("t", {.payload = "x"}).error);
}

TEST_CASE("brokerd config: bad durations and sizes exit 2 naming the flag", "[e2e][config]") {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"--default-retention-age", "7 days"}, {"--default-retention-bytes", "lots"},
      {"--retention-interval", "0"},         {"--default-backoff", "1s,soon"},
      {"--default-max-deliveries", "0"},     {"--log-format", "xml"},
      {"--max-pending-connections", "0"},
  };
  for (const auto& [flag, value] : bad) {
    auto r = RunBrokerd({flag, value, "--print-config"});
    INFO(flag << " " << value << ": " << r.err);
    CHECK(r.exit_code == 2);
    CHECK(Contains(r.err, flag));
    CHECK(r.out.empty());
  }
}

TEST_CASE("brokerd logs: --log-format json writes one JSON object per line", "[e2e][config]") {
  TempDir dir("herald-config");
  // A data dir whose name needs escaping (quote, backslash, a byte that is not
  // UTF-8) shows up in the start-up line.
  std::string data_dir = dir / "da\"ta\\dir\xff";
  Brokerd brokerd(dir, {"--listen", "127.0.0.1:0", "--port-file", dir / "port", "--data-dir", data_dir,
                        "--log-format", "json", "--log-level", "debug"});
  uint16_t port = WaitForPort(brokerd, dir / "port");
  INFO("brokerd stderr:\n" << brokerd.err());
  REQUIRE(port > 0);
  {
    herald::Client client({.broker = "127.0.0.1:" + std::to_string(port)});
    REQUIRE_FALSE(client.CreateTopic("t"));
    CHECK_FALSE(client.PublishSync("t", {.payload = "x"}).error);
  }
  REQUIRE(brokerd.Stop() == 0);
  CHECK(brokerd.out().empty());

  std::istringstream lines(brokerd.err());
  const std::regex rfc3339_ms(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");
  int parsed = 0;
  bool saw_data_dir = false;
  for (std::string line; std::getline(lines, line);) {
    INFO("line: " << line);
    nlohmann::json j;
    REQUIRE_NOTHROW(j = nlohmann::json::parse(line));
    REQUIRE(j.is_object());
    CHECK(j.size() == 4);
    REQUIRE(j.value("ts", nlohmann::json()).is_string());
    CHECK(std::regex_match(j["ts"].get<std::string>(), rfc3339_ms));
    CHECK(j.value("level", "").size() > 0);
    CHECK(j.value("logger", "").size() > 0);
    REQUIRE(j.value("msg", nlohmann::json()).is_string());
    if (Contains(j["msg"].get<std::string>(), "da\"ta\\dir\xEF\xBF\xBD")) saw_data_dir = true;  // \xff -> U+FFFD
    ++parsed;
  }
  CHECK(parsed >= 3);
  CHECK(saw_data_dir);
}
