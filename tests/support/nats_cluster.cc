#include "tests/support/nats_cluster.h"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <catch2/catch.hpp>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace herald::test {

namespace {

// `n` distinct ports the kernel picks as free on 127.0.0.1. All n sockets stay
// bound until every port is picked: closed one at a time, the kernel handed
// out the same port twice (a CI run got two route ports alike, and nats-server
// refused its "duplicate route"). They are closed before nats-server binds
// them, so another process could take one meanwhile; on loopback in a test run
// that race is rare, and a node that fails to bind fails the start loudly.
std::vector<uint16_t> FreePorts(int n) {
  std::vector<int> fds;
  std::vector<uint16_t> ports;
  for (int i = 0; i < n; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    fds.push_back(fd);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    ports.push_back(ntohs(addr.sin_port));
  }
  for (int fd : fds) ::close(fd);
  return ports;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A minimal HTTP/1.0 GET on loopback with a 2 s budget; the body, or "" on any failure
// or a status other than 200.
std::string HttpGet(uint16_t port, const std::string& path) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0) return {};
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  auto wait = [&](short events) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, events, 0};
    return ::poll(&p, 1, static_cast<int>(left.count())) == 1;
  };
  std::string response;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 && errno != EINPROGRESS) {
    ::close(fd);
    return {};
  }
  if (!wait(POLLOUT)) {
    ::close(fd);
    return {};
  }
  int err = 0;
  socklen_t len = sizeof err;
  ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
  std::string request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  if (err != 0 || ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
    ::close(fd);
    return {};
  }
  char buf[4096];
  while (wait(POLLIN)) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    response.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  if (response.rfind("HTTP/1.", 0) != 0 || response.find(" 200 ") == std::string::npos) return {};
  auto body = response.find("\r\n\r\n");
  return body == std::string::npos ? std::string() : response.substr(body + 4);
}

}  // namespace

NatsCluster::NatsCluster(std::chrono::milliseconds timeout) : dir_("herald-nats") {
  const char* env = std::getenv("HERALD_NATS_SERVER");
  binary_ = env && *env ? env : "/usr/sbin/nats-server";
  REQUIRE(::access(binary_.c_str(), X_OK) == 0);
  std::vector<uint16_t> ports = FreePorts(3 * kNodes);
  for (int i = 0; i < kNodes; ++i) {
    nodes_[i].client_port = ports[3 * i];
    nodes_[i].route_port = ports[3 * i + 1];
    nodes_[i].monitor_port = ports[3 * i + 2];
  }
  std::string routes;
  for (const auto& n : nodes_) {
    if (!routes.empty()) routes += ", ";
    routes += "nats-route://127.0.0.1:" + std::to_string(n.route_port);
  }
  for (int i = 0; i < kNodes; ++i) {
    auto& n = nodes_[i];
    std::string name = "n" + std::to_string(i + 1);
    n.config = dir_ / (name + ".conf");
    n.log = dir_ / (name + ".log");
    std::ofstream conf(n.config);
    conf << "server_name: " << name << "\n"
         << "listen: 127.0.0.1:" << n.client_port << "\n"
         << "http: 127.0.0.1:" << n.monitor_port << "\n"
         << "jetstream {\n  store_dir: \"" << (dir_ / name) << "\"\n"
         << "  max_memory_store: 64MB\n  max_file_store: 1GB\n}\n"
         << "cluster {\n  name: herald-test\n  listen: 127.0.0.1:" << n.route_port << "\n"
         << "  routes: [" << routes << "]\n}\n";
    REQUIRE(conf.good());
  }
  for (int i = 0; i < kNodes; ++i) Start(i);
  WaitReady(timeout, /*healthy=*/true);
}

NatsCluster::~NatsCluster() {
  for (auto& n : nodes_) {
    if (n.pid > 0) ::kill(n.pid, SIGTERM);
  }
  for (auto& n : nodes_) {
    if (n.pid <= 0) continue;
    int status = 0;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (::waitpid(n.pid, &status, WNOHANG) != n.pid) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(n.pid, SIGKILL);
        ::waitpid(n.pid, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    n.pid = -1;
  }
}

std::string NatsCluster::url() const {
  std::string url = "nats://";
  for (int i = 0; i < kNodes; ++i) {
    if (i > 0) url += ",";
    url += "127.0.0.1:" + std::to_string(nodes_[i].client_port);
  }
  return url;
}

std::string NatsCluster::node_url(int i) const {
  return "nats://127.0.0.1:" + std::to_string(nodes_[i].client_port);
}

void NatsCluster::Start(int i) {
  auto& n = nodes_[i];
  std::vector<std::string> args = {binary_, "-c", n.config, "-js"};
  n.pid = ::fork();
  REQUIRE(n.pid >= 0);
  if (n.pid == 0) {
    int fd = ::open(n.log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
}

void NatsCluster::Kill(int i) {
  auto& n = nodes_[i];
  if (n.pid <= 0) return;
  ::kill(n.pid, SIGKILL);
  int status = 0;
  ::waitpid(n.pid, &status, 0);
  n.pid = -1;
}

void NatsCluster::Pause(int i) {
  if (nodes_[i].pid > 0) ::kill(nodes_[i].pid, SIGSTOP);
}

void NatsCluster::Resume(int i) {
  if (nodes_[i].pid > 0) ::kill(nodes_[i].pid, SIGCONT);
}

void NatsCluster::Restart(int i, std::chrono::milliseconds timeout) {
  Kill(i);
  Start(i);
  WaitReady(timeout, /*healthy=*/false);
}

std::string NatsCluster::Monitor(int i, const std::string& path) const {
  return HttpGet(nodes_[i].monitor_port, path);
}

bool NatsCluster::NodeReady(int i, bool healthy) const {
  // /healthz is 200 once the server's JetStream is up and current with all its
  // streams and consumers (after a restart under load that can take more than
  // 30 s, so Restart does not wait for it); /jsz names the meta leader once one
  // is elected (the field is left out while there is none).
  if (healthy && Monitor(i, "/healthz").empty()) return false;
  std::string jsz = Monitor(i, "/jsz");
  auto meta = jsz.find("\"meta_cluster\"");
  return meta != std::string::npos && jsz.find("\"leader\"", meta) != std::string::npos;
}

bool NatsCluster::Ready(bool healthy) const {
  for (int i = 0; i < kNodes; ++i) {
    if (nodes_[i].pid > 0 && !NodeReady(i, healthy)) return false;
  }
  return true;
}

void NatsCluster::WaitReady(std::chrono::milliseconds timeout, bool healthy) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  bool ready = false;
  bool died = false;
  while (!died && std::chrono::steady_clock::now() < deadline) {
    for (auto& n : nodes_) {  // a node that exited while starting (a port taken, a bad config)
      int status = 0;
      if (n.pid > 0 && ::waitpid(n.pid, &status, WNOHANG) == n.pid) {
        n.pid = -1;
        died = true;
      }
    }
    if (!died && Ready(healthy)) {
      ready = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::string logs;
  if (!ready) {
    for (int i = 0; i < kNodes; ++i)
      logs += "nats node " + std::to_string(i) + " (pid " + std::to_string(nodes_[i].pid) + ") log:\n" + LogTail(i) + "\n";
  }
  INFO(logs);
  REQUIRE(ready);
}

std::string NatsCluster::LogTail(int i, std::size_t bytes) const {
  std::string all = ReadAll(nodes_[i].log);
  return all.size() > bytes ? all.substr(all.size() - bytes) : all;
}

}  // namespace herald::test
