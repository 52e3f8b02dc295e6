// broker_fuzzer: the broker's request handling, through a real connection.
//
// One in-process broker (the same library brokerd runs, on a loopback port and
// a temporary data dir) serves the whole run; at start it gets the topic
// "orders" with a few messages, which the seeds name. Each input is one
// connection: Hello, then the input's stream as it is (frames, or not), then
// the client's side of the socket is shut; the harness reads until the broker
// closes the connection. Inputs have frame_fuzzer's format, so the two share
// the seeds in corpus/frame: a control byte whose bits 0-1 give k, k
// little-endian u16 sizes of the first sends, then the stream (the other
// control bits mean nothing here). A crash or sanitizer report in the broker's
// threads fails the input.
//
// Stateful: topics, groups and messages that inputs create stay for the rest
// of the run, so a crash may need the inputs before it to reproduce; the
// broker logs nothing.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "herald/testing/in_process_broker.h"
#include "schemas/frame.h"
#include "schemas/record_batch.h"
#include "fuzz_check.h"

namespace {

using namespace herald;

std::unique_ptr<testing::InProcessBroker> g_broker;
uint16_t g_port = 0;

bool SendAll(int fd, const uint8_t* data, std::size_t size) {
  while (size > 0) {
    ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;  // the broker closed the connection: fine
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

bool SendFrame(int fd, const wire::EncodedFrame& frame) { return SendAll(fd, frame.data(), frame.size()); }

int Connect() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  CHECK(fd >= 0);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  // close() resets instead of leaving TIME_WAIT: tens of thousands of
  // connections a minute would use up the loopback's ephemeral ports.
  linger abort_on_close{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(g_port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  if (rc != 0 && errno == EINTR) {
    // libFuzzer's timer signal (SIGALRM, for -timeout) interrupted the
    // connect; the connection goes on in the background, so wait for it
    // rather than calling connect again (which would answer EALREADY).
    pollfd p{fd, POLLOUT, 0};
    while ((rc = ::poll(&p, 1, 10000)) < 0 && errno == EINTR) {
    }
    int error = 0;
    socklen_t len = sizeof error;
    if (rc == 1 && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) == 0 && error == 0) {
      rc = 0;
    } else {
      errno = rc == 1 ? error : ETIMEDOUT;
      rc = -1;
    }
  }
  if (rc != 0) {
    std::fprintf(stderr, "connect: %s\n", std::strerror(errno));
    ::herald::fuzz::Fail(__FILE__, __LINE__, "cannot connect to the in-process broker");
  }
  return fd;
}

// Reads (and drops) until EOF; false if the broker keeps the connection open
// past the deadline.
bool DrainUntilClosed(int fd, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  uint8_t buf[16384];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r <= 0) continue;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return true;
  }
}

wire::EncodedFrame Hello() {
  flatbuffers::FlatBufferBuilder fbb(64);
  auto name = fbb.CreateString("broker-fuzzer");
  return wire::FinishFrame(fbb, 1, wire::CreateHello(fbb, wire::kProtocolVersion, name));
}

void Setup() {
  spdlog::set_level(spdlog::level::off);
  g_broker = std::make_unique<testing::InProcessBroker>();
  // Stop it at exit while spdlog's registry is still there (it was made
  // before this handler was registered, so it is destroyed after it runs).
  std::atexit([] { g_broker.reset(); });
  std::string address = g_broker->address();
  g_port = static_cast<uint16_t>(std::stoi(address.substr(address.rfind(':') + 1)));
  // The topic the seeds name, with a few messages in it.
  int fd = Connect();
  SendFrame(fd, Hello());
  {
    flatbuffers::FlatBufferBuilder fbb(64);
    auto n = fbb.CreateString("orders");
    SendFrame(fd, wire::FinishFrame(fbb, 2, wire::CreateCreateTopic(fbb, n)));
  }
  {
    wire::batch::StringBuilder batch(5);
    const std::string_view key = "k";
    for (int i = 0; i < 5; ++i) {
      batch.StartRecord(&key, 0);
      batch.FinishRecord("message " + std::to_string(i));
    }
    flatbuffers::FlatBufferBuilder fbb(256);
    auto t = fbb.CreateString("orders");
    auto v = wire::CreateBytes(fbb, batch.Finish());
    SendFrame(fd, wire::FinishFrame(fbb, 3, wire::CreatePublish(fbb, t, 0, 0, v)));
  }
  ::shutdown(fd, SHUT_WR);
  CHECK(DrainUntilClosed(fd, std::chrono::seconds(10)));
  ::close(fd);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (!g_broker) Setup();
  if (size < 1) return 0;
  std::size_t at = 1;
  std::vector<std::size_t> sends;
  for (int i = 0; i < (data[0] & 3); ++i) {
    if (size - at < 2) return 0;
    sends.push_back(data[at] | static_cast<std::size_t>(data[at + 1]) << 8);
    at += 2;
  }
  int fd = Connect();
  bool open = SendFrame(fd, Hello());
  for (std::size_t n : sends) {
    n = std::min(n, size - at);
    if (open) open = SendAll(fd, data + at, n);
    at += n;
  }
  if (open) SendAll(fd, data + at, size - at);
  ::shutdown(fd, SHUT_WR);
  // Publishes complete before the broker closes; nothing here should take long.
  bool closed = DrainUntilClosed(fd, std::chrono::seconds(20));
  ::close(fd);
  CHECK(closed && "the broker kept a connection open 20 s after the client's EOF");
  return 0;
}
