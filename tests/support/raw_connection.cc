#include "tests/support/raw_connection.h"
#include "tests/support/loopback_socket.h"

#include <cstring>

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace herald::test {

RawConnection::RawConnection(uint16_t port) : fd_(ConnectLoopback(port)) {}

RawConnection::~RawConnection() {
  if (fd_ >= 0) ::close(fd_);
}

bool RawConnection::SendBytes(const void* data, std::size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0 && fd_ >= 0) {
    ssize_t n = ::send(fd_, p, size, MSG_NOSIGNAL);
    if (n <= 0) return false;
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return fd_ >= 0;
}

bool RawConnection::SendHello(const std::string& token) {
  flatbuffers::FlatBufferBuilder fbb;
  auto name = fbb.CreateString("raw-test");
  auto token_offset = token.empty() ? 0 : fbb.CreateString(token);
  return Send(wire::FinishFrame(fbb, 1, wire::CreateHello(fbb, wire::kProtocolVersion, name, token_offset)));
}

bool RawConnection::Handshake(const std::string& token) {
  if (!SendHello(token)) return false;
  const wire::Frame* reply = ReadFrame();
  return reply != nullptr && reply->body_as_HelloOk() != nullptr;
}

bool RawConnection::ReadExactly(void* out, std::size_t n, std::chrono::steady_clock::time_point deadline) {
  char* p = static_cast<char*>(out);
  while (n > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd pfd{fd_, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) return false;
    ssize_t got = ::recv(fd_, p, n, 0);
    if (got <= 0) return false;
    p += got;
    n -= static_cast<std::size_t>(got);
  }
  return true;
}

const wire::Frame* RawConnection::ReadFrame(std::chrono::milliseconds timeout) {
  if (fd_ < 0) return nullptr;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  uint8_t prefix[4];
  if (!ReadExactly(prefix, 4, deadline)) return nullptr;
  uint32_t length = wire::DecodeLength(prefix);
  if (length > (64u << 20)) return nullptr;
  frame_.assign((length + 4 + 7) / 8, 0);
  auto* bytes = reinterpret_cast<uint8_t*>(frame_.data());
  std::memcpy(bytes, prefix, 4);
  if (!ReadExactly(bytes + 4, length, deadline)) return nullptr;
  return wire::VerifyFrame(bytes, length + 4);
}

wire::ErrorCode ErrorOf(const wire::Frame* frame) {
  REQUIRE(frame != nullptr);
  const auto* err = frame->body_as_ErrorReply();
  REQUIRE(err != nullptr);
  return err->code();
}

bool RawConnection::ClosedByPeer(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd pfd{fd_, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(std::max<int64_t>(left.count(), 1))) <= 0) return false;
    ssize_t got = ::recv(fd_, buf, sizeof buf, 0);
    if (got <= 0) return true;  // EOF or reset: closed
  }
  return false;
}

}  // namespace herald::test
