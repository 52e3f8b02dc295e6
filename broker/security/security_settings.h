#pragma once
// SecuritySettings: who may connect (the principals file) and the TLS context
// that new connections use. Loaded when the broker opens and again on every
// reload (SIGHUP). Once loaded a set never changes: a reload makes a new one
// and swaps it in, and each session holds (shared) the principal and TLS
// context it was admitted with, so nothing a live session uses is freed
// or edited under it.

#include <memory>
#include <string>

#include "broker/security/principals.h"
#include "broker/status.h"

namespace asio::ssl {
class context;
}

namespace herald::broker {

struct SecuritySettings {
  std::shared_ptr<const Principals> principals;  // nullptr: auth off
  std::shared_ptr<asio::ssl::context> tls;       // nullptr: TLS off
};

// The files the settings come from (brokerd's --auth-file, --tls-cert and
// --tls-key). Empty auth_file: auth off; tls_cert + tls_key: both or neither.
struct SecurityFiles {
  std::string auth_file;
  std::string tls_cert;
  std::string tls_key;
};

// Reads the files `files` names. Any
// error names the file (and the line, for the principals file); *out is then
// left as it was. Blocking file reads: never on the I/O thread once the
// broker serves.
Status LoadSecuritySettings(const SecurityFiles& files, SecuritySettings* out);

}  // namespace herald::broker
