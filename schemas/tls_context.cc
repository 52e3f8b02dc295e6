#include "schemas/tls_context.h"

#include <asio/ssl/context.hpp>
#include <fmt/format.h>

namespace herald::wire {

namespace {

std::shared_ptr<asio::ssl::context> NewContext(asio::ssl::context::method method) {
  auto context = std::make_shared<asio::ssl::context>(method);
  context->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                       asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use);
  return context;
}

}  // namespace

std::shared_ptr<asio::ssl::context> MakeServerTlsContext(const std::string& cert_file,
                                                         const std::string& key_file,
                                                         std::string* error) {
  auto context = NewContext(asio::ssl::context::tls_server);
  asio::error_code ec;
  context->use_certificate_chain_file(cert_file, ec);
  if (ec) {
    *error = fmt::format("cannot load the TLS certificate '{}': {}", cert_file, ec.message());
    return nullptr;
  }
  context->use_private_key_file(key_file, asio::ssl::context::pem, ec);
  if (ec) {
    *error = fmt::format("cannot load the TLS key '{}': {}", key_file, ec.message());
    return nullptr;
  }
  if (SSL_CTX_check_private_key(context->native_handle()) != 1) {
    *error = fmt::format("the TLS key '{}' does not match the certificate '{}'", key_file, cert_file);
    return nullptr;
  }
  return context;
}

std::shared_ptr<asio::ssl::context> MakeClientTlsContext(const std::string& ca_file,
                                                         std::string* error) {
  auto context = NewContext(asio::ssl::context::tls_client);
  asio::error_code ec;
  if (ca_file.empty()) {
    context->set_default_verify_paths(ec);
  } else {
    context->load_verify_file(ca_file, ec);
  }
  if (ec) {
    *error = ca_file.empty() ? fmt::format("cannot load the system's CA certificates: {}", ec.message())
                             : fmt::format("cannot load the CA file '{}': {}", ca_file, ec.message());
    return nullptr;
  }
  context->set_verify_mode(asio::ssl::verify_peer);
  return context;
}

}  // namespace herald::wire
