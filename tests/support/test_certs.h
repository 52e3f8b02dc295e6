#pragma once
// Test certificates, made fresh per test with OpenSSL: a CA, and a server
// certificate it signed for 127.0.0.1, ::1 and "localhost". Written as PEM
// files so brokerd, brokerctl and the services read them as they would real ones.

#include <string>

namespace herald::test {

struct TestCerts {
  std::string ca_file;      // the CA certificate clients trust
  std::string cert_file;    // the server's certificate
  std::string key_file;     // the server's private key
  // Another CA's certificate: a client trusting only it must refuse the server.
  std::string other_ca_file;
};

// Writes the files into `dir` (which must exist). REQUIREs success.
TestCerts MakeTestCerts(const std::string& dir);

}  // namespace herald::test
