#include "plaintext_token.h"

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <fmt/format.h>

namespace herald::client_detail {

namespace {

// Whether the options leave it to the addresses: a token would go in clear.
bool AddressesDecide(const ClientOptions& options, bool has_token) {
  return has_token && !options.tls && !options.allow_plaintext_token;
}

}  // namespace

bool IsLoopback(const asio::ip::address& address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6()).is_loopback();
  }
  return address.is_loopback();
}

bool RefusesPlaintextToken(const ClientOptions& options, bool has_token,
                           const std::vector<asio::ip::address>& addresses,
                           asio::ip::address* offender) {
  if (!AddressesDecide(options, has_token)) return false;
  for (const auto& a : addresses) {
    if (!IsLoopback(a)) {
      if (offender) *offender = a;
      return true;
    }
  }
  return false;
}

bool RefusesPlaintextTokenTo(const ClientOptions& options, bool has_token, const std::string& host,
                             std::string* message) {
  if (!AddressesDecide(options, has_token)) return false;  // then no lookup either
  asio::io_context io;
  asio::ip::tcp::resolver resolver(io);
  std::error_code ec;
  auto results = resolver.resolve(host, "", ec);
  if (ec || results.empty()) {
    *message = fmt::format(
        "refusing to send the token in clear to {}: it does not resolve ({}), so nothing shows "
        "it is a loopback address; connect with TLS, or allow a plaintext token",
        host, ec ? ec.message() : "no addresses");
    return true;
  }
  std::vector<asio::ip::address> addresses;
  for (const auto& e : results) addresses.push_back(e.endpoint().address());
  asio::ip::address offender;
  if (!RefusesPlaintextToken(options, has_token, addresses, &offender)) return false;
  *message = DescribePlaintextRefusal(host, offender);
  return true;
}

std::string DescribePlaintextRefusal(const std::string& broker, const asio::ip::address& offender) {
  return fmt::format(
      "refusing to send the token in clear to {} ({} is not a loopback address): connect with TLS, "
      "or set ClientOptions::allow_plaintext_token (brokerctl --allow-plaintext-token) if "
      "plaintext is intended",
      broker, offender.to_string());
}

}  // namespace herald::client_detail
