// The SDK's side of ProducerIdInUse, against a scripted stand-in for brokerd
// (a loopback socket that answers by hand): a broker that still holds the
// client's producer id for an older connection refuses the publish and closes
// the connection. The SDK must send the same batch (same producer id and
// sequence) again on a new connection, and report the publish as stored once
// the broker takes it. A real brokerd cannot be made to keep a dead
// connection on cue, hence the script.

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <future>
#include <thread>

#include <catch2/catch.hpp>

#include "herald/client.h"
#include "schemas/frame.h"

using namespace std::chrono_literals;
namespace wire = herald::wire;

namespace {

// One accepted connection of the scripted broker; every read has a deadline.
class ScriptedPeer {
 public:
  explicit ScriptedPeer(int fd) : fd_(fd) {}
  ~ScriptedPeer() { ::close(fd_); }

  // The next frame, or nullptr on EOF or after 5 s.
  const wire::Frame* Read() {
    uint8_t prefix[4];
    if (!ReadExactly(prefix, 4)) return nullptr;
    uint32_t length = prefix[0] | prefix[1] << 8 | prefix[2] << 16 | uint32_t{prefix[3]} << 24;
    frame_.assign(4 + length, 0);
    std::memcpy(frame_.data(), prefix, 4);
    if (!ReadExactly(frame_.data() + 4, length)) return nullptr;
    return wire::VerifyFrame(frame_.data(), frame_.size());
  }
  bool Write(const wire::EncodedFrame& frame) {
    return ::send(fd_, frame.data(), frame.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(frame.size());
  }

 private:
  bool ReadExactly(uint8_t* out, std::size_t n) {
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (n > 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      pollfd p{fd_, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
      ssize_t got = ::recv(fd_, out, n, 0);
      if (got <= 0) return false;
      out += got;
      n -= static_cast<std::size_t>(got);
    }
    return true;
  }
  int fd_;
  std::vector<uint8_t> frame_;
};

struct PublishSeen {
  uint64_t request_id = 0, producer_id = 0, base_sequence = 0;
};

// Hello -> HelloOk, then the first Publish's fields.
std::optional<PublishSeen> AcceptPublish(ScriptedPeer& peer) {
  const wire::Frame* hello = peer.Read();
  if (hello == nullptr || hello->body_as_Hello() == nullptr) return std::nullopt;
  flatbuffers::FlatBufferBuilder fbb;
  if (!peer.Write(wire::FinishFrame(fbb, hello->request_id(), wire::CreateHelloOk(fbb, 1)))) return std::nullopt;
  for (int frames = 0; frames < 16; ++frames) {
    const wire::Frame* f = peer.Read();
    if (f == nullptr) return std::nullopt;
    if (const auto* p = f->body_as_Publish()) return PublishSeen{f->request_id(), p->producer_id(), p->base_sequence()};
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("producer id: the SDK re-sends a publish refused with ProducerIdInUse on a new connection", "[e2e][producer]") {
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(listener >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(listener, 4) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  const uint16_t port = ntohs(addr.sin_port);

  // The script: refuse the first connection's publish and close it; store the second's.
  std::promise<std::pair<PublishSeen, PublishSeen>> seen;
  std::thread broker([&] {
    auto accept_one = [&]() -> int {
      pollfd p{listener, POLLIN, 0};
      return ::poll(&p, 1, 5000) == 1 ? ::accept(listener, nullptr, nullptr) : -1;
    };
    PublishSeen first, second;
    {
      int fd = accept_one();
      if (fd < 0) return seen.set_value({});
      ScriptedPeer peer(fd);
      auto p = AcceptPublish(peer);
      if (!p) return seen.set_value({});
      first = *p;
      peer.Write(wire::EncodeError(first.request_id, wire::ErrorCode::ProducerIdInUse, "in use"));
    }
    int fd = accept_one();
    if (fd < 0) return seen.set_value({first, {}});
    ScriptedPeer peer(fd);
    auto p = AcceptPublish(peer);
    if (!p) return seen.set_value({first, {}});
    second = *p;
    flatbuffers::FlatBufferBuilder fbb;
    peer.Write(wire::FinishFrame(fbb, second.request_id, wire::CreatePublishOk(fbb, 7, 1, false)));
    seen.set_value({first, second});
    peer.Read();  // until the client goes
  });

  {
    herald::Client client({.broker = "127.0.0.1:" + std::to_string(port), .reconnect_backoff_min = 10ms,
                           .request_timeout = 10s});
    herald::PublishResult r = client.PublishSync("t", {.payload = "once"});
    CHECK_FALSE(r.error);
    CHECK(r.offset == 7);
  }
  broker.join();
  ::close(listener);
  auto [first, second] = seen.get_future().get();
  CHECK(first.producer_id != 0);
  CHECK(second.producer_id == first.producer_id);
  CHECK(second.base_sequence == first.base_sequence);
}
