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

std::error_code Subscriptions::Add(const SubscribeOptions& options, MessageHandler handler) {
  std::string name = options.topic + "/" + options.group;
  {
    std::lock_guard lock(mu_);
    for (const auto& held : held_)
      if (held.first == name) return {};
  }
  SubscriptionId id = 0;
  if (std::error_code ec = client_.Subscribe(options, std::move(handler), &id)) return ec;
  std::lock_guard lock(mu_);
  held_.emplace_back(std::move(name), id);
  return {};
}

void Subscriptions::Leave() {
  std::vector<std::pair<std::string, SubscriptionId>> held;
  {
    std::lock_guard lock(mu_);
    held.swap(held_);
  }
  // Unsubscribe returns once its handler has stopped for good, whatever the
  // broker answers (a lost connection ends the membership too).
  for (const auto& [name, id] : held) client_.Unsubscribe(id);
}

}  // namespace herald::services
