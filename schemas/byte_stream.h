#pragma once
// ByteStream: the connection frames travel over, plain TCP or TLS on top of
// it. The broker's sessions and the SDK's connection read and write through
// it without caring which; the TCP socket stays reachable for options,
// endpoints, shutdown and close, which act on the TCP layer either way.
//
// Like an Asio socket it allows one read and one write in flight at a time
// (full duplex), from one thread or strand.

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <system_error>
#include <tuple>

#include <asio/awaitable.hpp>
#include <asio/buffer.hpp>
#include <asio/ip/tcp.hpp>

namespace asio::ssl {
class context;
}

namespace herald::wire {

enum class TlsRole { kClient, kServer };

class ByteStream {
 public:
  // Plain TCP.
  explicit ByteStream(asio::ip::tcp::socket socket);
  // TLS over `socket`; *tls must outlive the stream.
  ByteStream(asio::ip::tcp::socket socket, asio::ssl::context& tls);
  ~ByteStream();
  ByteStream(const ByteStream&) = delete;
  ByteStream& operator=(const ByteStream&) = delete;

  bool tls() const { return tls_ != nullptr; }
  asio::ip::tcp::socket& socket() { return socket_; }

  // TLS: the handshake. A client sends `server_name` (SNI) and accepts only a
  // certificate that chains to its context's CAs and names `server_name` (a
  // host name or an IP address). Plain TCP: nothing to do.
  asio::awaitable<std::error_code> Handshake(TlsRole role, const std::string& server_name = "");

  asio::awaitable<std::tuple<std::error_code, std::size_t>> ReadSome(asio::mutable_buffer buffer);
  // Writes every byte of every buffer. The buffers (and the span) must stay
  // valid until the operation completes.
  asio::awaitable<std::tuple<std::error_code, std::size_t>> Write(
      std::span<const asio::const_buffer> buffers);

  // Closes the TCP socket (no TLS close_notify: the frame protocol knows where
  // its messages end, so a truncation cannot be mistaken for an end).
  void Close();

 private:
  struct Tls;
  asio::ip::tcp::socket socket_;
  std::unique_ptr<Tls> tls_;
};

}  // namespace herald::wire
