#pragma once
// TLS settings shared by brokerd, the SDK and brokerctl: TLS 1.2 or newer,
// certificates and keys from PEM files.

#include <memory>
#include <string>

namespace asio::ssl {
class context;
}

namespace herald::wire {

// The broker's side: its certificate chain and private key. On failure
// returns nullptr and says why in *error (which file, what OpenSSL said).
std::shared_ptr<asio::ssl::context> MakeServerTlsContext(const std::string& cert_file,
                                                         const std::string& key_file,
                                                         std::string* error);

// A client's side: it trusts the CA certificates in `ca_file` (PEM), or the
// system's CAs when `ca_file` is empty. The server's name is checked per
// connection (ByteStream::Handshake).
std::shared_ptr<asio::ssl::context> MakeClientTlsContext(const std::string& ca_file,
                                                         std::string* error);

}  // namespace herald::wire
