#include "schemas/byte_stream.h"

#include <asio/experimental/as_tuple.hpp>
#include <asio/ssl.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

namespace herald::wire {

namespace {
constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);
}  // namespace

// The TLS layer borrows the socket (a reference next layer), so socket()
// keeps meaning the TCP connection underneath.
struct ByteStream::Tls {
  Tls(asio::ip::tcp::socket& socket, asio::ssl::context& context) : stream(socket, context) {}
  asio::ssl::stream<asio::ip::tcp::socket&> stream;
};

ByteStream::ByteStream(asio::ip::tcp::socket socket) : socket_(std::move(socket)) {}

ByteStream::ByteStream(asio::ip::tcp::socket socket, asio::ssl::context& tls)
    : socket_(std::move(socket)), tls_(std::make_unique<Tls>(socket_, tls)) {}

ByteStream::~ByteStream() = default;

asio::awaitable<std::error_code> ByteStream::Handshake(TlsRole role, const std::string& server_name) {
  if (!tls_) co_return std::error_code{};
  if (role == TlsRole::kClient) {
    // SNI, for servers that pick a certificate by name (not for IP addresses: RFC 6066).
    asio::error_code ec;
    asio::ip::make_address(server_name, ec);
    if (ec) SSL_set_tlsext_host_name(tls_->stream.native_handle(), server_name.c_str());
    tls_->stream.set_verify_mode(asio::ssl::verify_peer);
    tls_->stream.set_verify_callback(asio::ssl::host_name_verification(server_name));
  }
  auto [ec] = co_await tls_->stream.async_handshake(
      role == TlsRole::kClient ? asio::ssl::stream_base::client : asio::ssl::stream_base::server,
      kNoThrow);
  co_return ec;
}

// ReadSome and Write return asio's awaitable for the operation itself: as
// coroutines of their own they would add a coroutine frame, allocated per
// call, to every read and write of the connection.
asio::awaitable<std::tuple<std::error_code, std::size_t>> ByteStream::ReadSome(
    asio::mutable_buffer buffer) {
  if (tls_) return tls_->stream.async_read_some(buffer, kNoThrow);
  return socket_.async_read_some(buffer, kNoThrow);
}

asio::awaitable<std::tuple<std::error_code, std::size_t>> ByteStream::Write(
    std::span<const asio::const_buffer> buffers) {
  if (tls_) return asio::async_write(tls_->stream, buffers, kNoThrow);
  return asio::async_write(socket_, buffers, kNoThrow);
}

void ByteStream::Close() {
  asio::error_code ec;
  socket_.close(ec);
}

}  // namespace herald::wire
