#include "broker/security/security_settings.h"

#include <spdlog/spdlog.h>

#include "schemas/tls_context.h"

namespace herald::broker {

Status LoadSecuritySettings(const SecurityFiles& files, SecuritySettings* out) {
  SecuritySettings loaded;
  if (!files.auth_file.empty()) {
    std::unique_ptr<Principals> principals;
    Status s = Principals::Load(files.auth_file, &principals);
    if (!s.ok()) return s;
    if (principals->size() == 0) {
      spdlog::get("broker")->warn("auth file {} names no principals: no client can connect", files.auth_file);
    }
    loaded.principals = std::move(principals);
  }
  if (files.tls_cert.empty() != files.tls_key.empty()) {
    return {wire::ErrorCode::InvalidArgument, "TLS needs both --tls-cert and --tls-key"};
  }
  if (!files.tls_cert.empty()) {
    std::string error;
    loaded.tls = wire::MakeServerTlsContext(files.tls_cert, files.tls_key, &error);
    if (!loaded.tls) return {wire::ErrorCode::InvalidArgument, error};
  }
  *out = std::move(loaded);
  return Status::Ok();
}

}  // namespace herald::broker
