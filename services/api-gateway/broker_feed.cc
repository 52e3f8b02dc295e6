#include "broker_feed.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "broker_setup.h"
#include "events.h"
#include "service.h"

namespace herald::services {

namespace {

// A payload from any publisher may hold invalid UTF-8: replaced, not thrown on.
std::string Dump(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

}  // namespace

std::optional<LiveEvent> ToLiveEvent(std::size_t topic, const ReceivedMessage& message) {
  LiveEvent live{topic, message.offset, kFollowedTopics[topic], ""};
  if (live.name == kPostUpdated) {
    auto e = DecodePostUpdated(message.payload);
    if (!e) return std::nullopt;
    live.data = Dump({{"post_id", e->post_id}, {"comment_count", e->comment_count}});
  } else {
    auto e = DecodeCommentCreated(message.payload);
    if (!e) return std::nullopt;
    live.data = Dump({{"post_id", e->post_id},
                      {"comment_id", e->comment_id},
                      {"author", e->author},
                      {"content", e->content},
                      {"created_at", Rfc3339(e->time_ms)}});
  }
  return live;
}

BrokerFeed::BrokerFeed(Client* client, EventHub* hub)
    : client_(client), hub_(hub), group_("api-gateway-" + NewId()) {}

bool BrokerFeed::Start() {
  if (!EnsureTopics(*client_, {kPostUpdated, kCommentCreated}, "api-gateway")) return false;
  for (std::size_t topic = 0; topic < kFollowedTopics.size(); ++topic) {
    if (subscriptions_[topic]) continue;
    SubscriptionId id = 0;
    std::error_code ec = client_->Subscribe(
        {.topic = kFollowedTopics[topic], .group = group_, .start = StartFrom::latest},
        [this, topic](const Delivery& d) {
          if (auto live = ToLiveEvent(topic, d.message())) hub_->Put(*live);
          else spdlog::error("api-gateway: undecodable event at {}/{}", d.message().topic, d.message().offset);
          d.ack();
        },
        &id);
    if (ec) return false;
    subscriptions_[topic] = id;
    // Streams opened before the first event start here. (An event appended
    // between the subscribe and this lies below it: the hub still hands it
    // to streams opened earlier, which start before it.)
    TopicInfo info;
    if (!client_->DescribeTopic(kFollowedTopics[topic], &info)) hub_->SetNext(topic, info.next_offset);
  }
  spdlog::info("api-gateway: following {} and {} in group {}", kPostUpdated, kCommentCreated, group_);
  return true;
}

void BrokerFeed::Stop() {
  for (std::size_t topic = 0; topic < kFollowedTopics.size(); ++topic) {
    if (!subscriptions_[topic]) continue;
    client_->Unsubscribe(*subscriptions_[topic]);
    client_->DeleteGroup(kFollowedTopics[topic], group_);
    subscriptions_[topic].reset();
  }
}

}  // namespace herald::services
