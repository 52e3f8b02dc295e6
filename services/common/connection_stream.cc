#include "connection_stream.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>

namespace herald::services {

namespace {

constexpr std::chrono::milliseconds kLingerTime{1000};
constexpr std::size_t kLingerBytes = 256u << 10;

void AddressOf(int fd, bool peer, std::string& ip, int& port) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  int rc = peer ? getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len)
                : getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  if (rc != 0) return;
  char host[NI_MAXHOST], serv[NI_MAXSERV];
  if (getnameinfo(reinterpret_cast<sockaddr*>(&addr), len, host, sizeof host, serv, sizeof serv,
                  NI_NUMERICHOST | NI_NUMERICSERV) != 0)
    return;
  ip = host;
  port = std::atoi(serv);
}

}  // namespace

bool ConnectionStream::WaitFor(short events, Clock::time_point deadline, bool* stopped) const {
  constexpr long long kStopCheckMs = 100;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    pollfd p{fd_, events, 0};
    int rc = ::poll(&p, 1, static_cast<int>(std::clamp<long long>(left, 0, kStopCheckMs)));
    if (rc > 0) return true;  // ready, or an error/hang-up the next call reports
    if (rc < 0 && errno != EINTR) return false;
    if (server_stopping_ && server_stopping_()) {
      if (stopped) *stopped = true;
      return false;
    }
    if (rc == 0 && Clock::now() >= deadline) return false;
  }
}

bool ConnectionStream::WaitForRequest() {
  phase_ = Phase::kIdle;
  failure_ = Failure::kNone;
  if (buffered_begin_ < buffered_end_) return true;  // a pipelined request is already here
  if (!WaitFor(POLLIN, Clock::now() + limits_.idle_timeout)) return false;
  char byte;
  ssize_t n = ::recv(fd_, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n > 0;
}

void ConnectionStream::BeginHeaders() {
  phase_ = Phase::kHeaders;
  deadline_ = Clock::now() + limits_.header_timeout;
  budget_ = limits_.max_header_bytes;
}

void ConnectionStream::BeginBody(uint64_t length) {
  phase_ = Phase::kBody;
  deadline_ = Clock::now() + limits_.body_timeout;
  budget_ = length;
}

bool ConnectionStream::is_readable() const {
  return buffered_begin_ < buffered_end_ || WaitFor(POLLIN, deadline_);
}

bool ConnectionStream::PeerClosed() const {
  pollfd p{fd_, POLLIN | POLLRDHUP, 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  return (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0 || (p.revents & POLLIN) != 0;
}

bool ConnectionStream::is_writable() const {
  return WaitFor(POLLOUT, Clock::now() + limits_.write_timeout);
}

ssize_t ConnectionStream::read(char* ptr, size_t size) {
  if (budget_ == 0) {
    if (phase_ == Phase::kBody) return 0;  // the end of this request's body
    failure_ = Failure::kHeadersTooLarge;
    return -1;
  }
  size = static_cast<size_t>(std::min<uint64_t>(size, budget_));
  while (buffered_begin_ == buffered_end_) {
    bool stopped = false;
    if (!WaitFor(POLLIN, deadline_, &stopped)) {
      failure_ = stopped ? Failure::kServerStopping : Failure::kTimedOut;
      return -1;
    }
    ssize_t n = ::recv(fd_, buffer_.data(), buffer_.size(), MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    if (n <= 0) return n;  // 0: the peer closed
    buffered_begin_ = 0;
    buffered_end_ = static_cast<std::size_t>(n);
  }
  std::size_t n = std::min(size, buffered_end_ - buffered_begin_);
  std::memcpy(ptr, buffer_.data() + buffered_begin_, n);
  buffered_begin_ += n;
  budget_ -= n;
  return static_cast<ssize_t>(n);
}

ssize_t ConnectionStream::write(const char* ptr, size_t size) {
  if (!is_writable()) return -1;
  ssize_t n;
  do n = ::send(fd_, ptr, size, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n;
}

void ConnectionStream::get_remote_ip_and_port(std::string& ip, int& port) const { AddressOf(fd_, true, ip, port); }

void ConnectionStream::get_local_ip_and_port(std::string& ip, int& port) const { AddressOf(fd_, false, ip, port); }

void ConnectionStream::LingeringClose() {
  ::shutdown(fd_, SHUT_WR);
  auto deadline = Clock::now() + kLingerTime;
  std::size_t discarded = 0;
  char sink[4096];
  while (discarded < kLingerBytes && WaitFor(POLLIN, deadline)) {
    ssize_t n = ::recv(fd_, sink, sizeof sink, MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    if (n <= 0) break;  // EOF: the client has read our reply and closed
    discarded += static_cast<std::size_t>(n);
  }
}

}  // namespace herald::services
