// The plaintext-token rule (client/src/plaintext_token.h) as a decision:
// which addresses count as loopback, and which options let a token travel in
// clear. The connection applying it is tests/e2e/plaintext_token_test.cc.

#include <catch2/catch.hpp>

#include "client/src/plaintext_token.h"

using herald::ClientOptions;
using herald::client_detail::IsLoopback;
using herald::client_detail::RefusesPlaintextToken;
using herald::client_detail::RefusesPlaintextTokenTo;

namespace {

asio::ip::address At(const char* text) { return asio::ip::make_address(text); }

}  // namespace

TEST_CASE("plaintext token: loopback is 127.0.0.0/8, ::1 and their IPv4-mapped form", "[unit][token]") {
  for (const char* a : {"127.0.0.1", "127.0.0.53", "127.255.255.254", "::1", "::ffff:127.0.0.1"}) {
    INFO(a);
    CHECK(IsLoopback(At(a)));
  }
  for (const char* a : {"192.0.2.1", "10.0.0.1", "0.0.0.0", "128.0.0.1", "::", "2001:db8::1",
                        "::ffff:192.0.2.1", "fe80::1"}) {
    INFO(a);
    CHECK_FALSE(IsLoopback(At(a)));
  }
}

TEST_CASE("plaintext token: refused to another host unless TLS or the options allow it", "[unit][token]") {
  const std::vector<asio::ip::address> remote = {At("192.0.2.1")};
  const std::vector<asio::ip::address> local = {At("127.0.0.1"), At("::1")};
  const std::vector<asio::ip::address> mixed = {At("127.0.0.1"), At("192.0.2.1")};
  ClientOptions plain;

  asio::ip::address offender;
  CHECK(RefusesPlaintextToken(plain, /*has_token=*/true, remote, &offender));
  CHECK(offender == At("192.0.2.1"));
  CHECK(RefusesPlaintextToken(plain, true, mixed, &offender));  // any address elsewhere
  CHECK(offender == At("192.0.2.1"));
  CHECK_FALSE(RefusesPlaintextToken(plain, true, local));
  CHECK_FALSE(RefusesPlaintextToken(plain, /*has_token=*/false, remote));

  ClientOptions tls;
  tls.tls = true;
  CHECK_FALSE(RefusesPlaintextToken(tls, true, remote));

  ClientOptions allowed;
  allowed.allow_plaintext_token = true;
  CHECK_FALSE(RefusesPlaintextToken(allowed, true, remote));
}

TEST_CASE("plaintext token: a host name is judged by what it resolves to", "[unit][token]") {
  ClientOptions plain;
  std::string why;
  CHECK_FALSE(RefusesPlaintextTokenTo(plain, true, "127.0.0.1", &why));
  CHECK_FALSE(RefusesPlaintextTokenTo(plain, true, "localhost", &why));  // /etc/hosts: loopback
  CHECK(RefusesPlaintextTokenTo(plain, true, "192.0.2.1", &why));  // a literal: no lookup leaves the machine
  CHECK(why.find("in clear") != std::string::npos);
  CHECK(why.find("192.0.2.1") != std::string::npos);
  ClientOptions allowed;
  allowed.allow_plaintext_token = true;
  CHECK_FALSE(RefusesPlaintextTokenTo(allowed, true, "192.0.2.1", &why));
}
