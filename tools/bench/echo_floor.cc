// echo: the loopback floor under any broker's round trip. One thread echoes
// what it receives on a TCP connection over 127.0.0.1; another sends --size
// bytes and blocks until the same bytes came back, --count times (or until
// --max-seconds). Both block in the kernel and set TCP_NODELAY, so a round
// trip is two loopback sends and two wake-ups with nothing else in the way:
// a broker's publish needs at least that, plus its own work.

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <thread>

#include <fmt/format.h>

#include "bench.h"

namespace herald::bench {

namespace {

// Closes the descriptor when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

std::string Errno(const char* what) { return fmt::format("{}: {}", what, std::strerror(errno)); }

bool SetNoDelay(int fd) {
  int one = 1;
  return ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0;
}

// A receive that waits longer fails, so a server thread that never answers
// (its accept failed) cannot hang the run past --max-seconds.
bool SetReceiveTimeout(int fd, double seconds) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(seconds);
  tv.tv_usec = static_cast<suseconds_t>((seconds - static_cast<double>(tv.tv_sec)) * 1e6);
  return ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0;
}

// Sends all of buf; false on error or a closed peer.
bool SendAll(int fd, const char* buf, std::size_t n) {
  while (n > 0) {
    ssize_t k = ::send(fd, buf, n, MSG_NOSIGNAL);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return false;
    buf += k;
    n -= static_cast<std::size_t>(k);
  }
  return true;
}

// Receives exactly n bytes into buf; false on error or a closed peer.
bool RecvAll(int fd, char* buf, std::size_t n) {
  while (n > 0) {
    ssize_t k = ::recv(fd, buf, n, 0);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return false;
    buf += k;
    n -= static_cast<std::size_t>(k);
  }
  return true;
}

// Echoes whatever arrives on the one connection it accepts until the peer closes.
void EchoServer(int listener, std::size_t size) {
  Fd conn(::accept(listener, nullptr, nullptr));
  if (conn.get() < 0 || !SetNoDelay(conn.get())) return;
  std::string buf(size, '\0');
  while (RecvAll(conn.get(), buf.data(), size) && SendAll(conn.get(), buf.data(), size)) {
  }
}

}  // namespace

RunResult RunEchoFloor(const BenchOptions& o) {
  RunResult r;
  r.workload = "echo";
  r.latency_kind = kEchoRoundTrip;
  r.complete = false;
  if (o.size == 0) return r.error = "echo needs --size of at least 1 byte", r;

  Fd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;  // any free port
  socklen_t len = sizeof addr;
  if (listener.get() < 0 || ::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listener.get(), 1) != 0 ||
      ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return r.error = Errno("echo listener"), r;
  }
  std::thread server(EchoServer, listener.get(), o.size);
  {
    Fd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (client.get() < 0 || ::connect(client.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        !SetNoDelay(client.get()) || !SetReceiveTimeout(client.get(), o.max_seconds)) {
      r.error = Errno("echo client");
      ::shutdown(listener.get(), SHUT_RDWR);  // wakes the server's accept if the connect never reached it
    } else {
      std::string out(o.size, 'e'), in(o.size, '\0');
      r.latencies_us.reserve(o.count);
      const auto give_up = Clock::now() + FromSeconds(o.max_seconds);
      const auto start = Clock::now();
      auto now = start;
      for (uint64_t i = 0; i < o.count && now < give_up; ++i) {
        const auto sent = now;
        if (!SendAll(client.get(), out.data(), o.size) || !RecvAll(client.get(), in.data(), o.size)) {
          r.error = Errno("echo round trip");
          break;
        }
        now = Clock::now();
        r.latencies_us.push_back(std::chrono::duration<double, std::micro>(now - sent).count());
      }
      r.seconds = Seconds(now - start);
    }
  }  // closing the client ends the server's loop
  server.join();
  FinishTimedRun(r, o.count, "round trips");
  return r;
}

}  // namespace herald::bench
