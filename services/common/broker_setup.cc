#include "broker_setup.h"

#include <spdlog/spdlog.h>

namespace herald::services {

bool EnsureTopics(Client& client, std::initializer_list<const char*> topics, const std::string& service) {
  for (const char* topic : topics) {
    std::error_code ec = client.CreateTopic(topic);
    if (ec == herald::errc::not_authorized) {
      spdlog::info("{}: may not create topic {} (no admin permission); expecting an operator made it", service,
                   topic);
      continue;
    }
    if (ec) return false;
  }
  return true;
}

}  // namespace herald::services
