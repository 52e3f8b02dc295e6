#include "refusal.h"

#include <asio/ssl/error.hpp>
#include <fmt/format.h>

namespace herald::client_detail {

bool IsRefusal(std::error_code ec) {
  // The SSL category holds OpenSSL's reasons (verification failed, wrong
  // version number, an alert from the broker): each a mismatch of
  // configuration. A broker that goes away mid-handshake shows up as EOF or
  // stream_truncated (the stream category) instead, and is retried as usual.
  return ec == errc::authentication_failed || ec == errc::invalid_argument ||
         ec == errc::plaintext_token_refused ||
         ec.category() == asio::error::get_ssl_category();
}

std::string DescribeRefusal(std::error_code ec, const ClientOptions& options,
                            const RefusalDetail& detail) {
  if (ec == errc::authentication_failed) {
    std::string why = detail.message.empty() ? "" : " (" + detail.message + ")";
    if (!detail.token_sent) {
      return fmt::format(
          "broker {} requires a token and none was given{}: set ClientOptions::token or HERALD_TOKEN",
          options.broker, why);
    }
    return fmt::format("broker {} refused the token: authentication failed{}", options.broker, why);
  }
  if (ec.category() == asio::error::get_ssl_category()) {
    return fmt::format(
        "TLS handshake with {} failed: {}. Check that the broker serves TLS, that {} holds the CA "
        "that signed its certificate, and that the certificate names '{}'",
        options.broker, ec.message(),
        options.tls_ca_file.empty() ? std::string("the system's CA store") : "'" + options.tls_ca_file + "'",
        detail.server_name);
  }
  if (ec == errc::plaintext_token_refused) return detail.message;  // it says it all
  return fmt::format("cannot connect to {}: {}", options.broker,
                     detail.message.empty() ? ec.message() : detail.message);
}

}  // namespace herald::client_detail
