#include "broker/security/security_settings.h"

#include <spdlog/spdlog.h>

#include "schemas/tls_context.h"

namespace herald::broker {

Status LoadSecuritySettings(const BrokerConfig& config, SecuritySettings* out) {
  SecuritySettings loaded;
  if (!config.auth_file.empty()) {
    std::unique_ptr<Principals> principals;
    Status s = Principals::Load(config.auth_file, &principals);
    if (!s.ok()) return s;
    if (principals->size() == 0) {
      spdlog::get("broker")->warn("auth file {} names no principals: no client can connect", config.auth_file);
    }
    loaded.principals = std::move(principals);
  }
  if (config.tls_cert.empty() != config.tls_key.empty()) {
    return {wire::ErrorCode::InvalidArgument, "TLS needs both --tls-cert and --tls-key"};
  }
  if (!config.tls_cert.empty()) {
    std::string error;
    loaded.tls = wire::MakeServerTlsContext(config.tls_cert, config.tls_key, &error);
    if (!loaded.tls) return {wire::ErrorCode::InvalidArgument, error};
  }
  *out = std::move(loaded);
  return Status::Ok();
}

}  // namespace herald::broker
