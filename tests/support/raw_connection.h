#pragma once
// RawConnection: a blocking loopback socket that speaks frames by hand, for
// tests that must send what the SDK never would (garbage, bad lengths,
// frames that lack fields). Every read has a deadline.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <flatbuffers/flatbuffers.h>

#include "schemas/frame.h"

namespace herald::test {

class RawConnection {
 public:
  explicit RawConnection(uint16_t port);
  ~RawConnection();

  bool SendBytes(const void* data, std::size_t size);
  bool Send(const wire::EncodedFrame& frame) { return SendBytes(frame.data(), frame.size()); }
  // Sends Hello (with the token, if not empty).
  bool SendHello(const std::string& token = "");
  // Sends Hello and expects HelloOk.
  bool Handshake(const std::string& token = "");

  // The next frame (bytes kept in *storage), or nullopt on EOF/timeout.
  const wire::Frame* ReadFrame(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // True if the broker closed the connection (EOF) within the timeout.
  bool ClosedByPeer(std::chrono::milliseconds timeout = std::chrono::seconds(5));

 private:
  bool ReadExactly(void* out, std::size_t n, std::chrono::steady_clock::time_point deadline);
  int fd_ = -1;
  std::vector<uint64_t> frame_;  // 8-byte aligned storage of the last frame
};

// The code of an ErrorReply frame; REQUIREs that `frame` is one.
wire::ErrorCode ErrorOf(const wire::Frame* frame);

}  // namespace herald::test
