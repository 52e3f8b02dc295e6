#pragma once
// BrokerFeed: the gateway's subscription to the topics it pushes to browsers
// (kFollowedTopics). Each gateway instance joins a group of its own,
// "api-gateway-<random>", starting at the topics' end, so that every instance
// sees every event from its start on; it deletes the group when it stops.
// Each event goes into the EventHub as JSON, then is acked.

#include <array>
#include <optional>
#include <string>

#include "event_hub.h"
#include "herald/client.h"

namespace herald::services {

// The browser's view of a followed topic's message: post-updated as
// {post_id, comment_count}, comment-created as {post_id, comment_id, author,
// content, created_at}. nullopt: the payload does not decode.
std::optional<LiveEvent> ToLiveEvent(std::size_t topic, const ReceivedMessage& message);

class BrokerFeed {
 public:
  // *client and *hub must outlive the feed.
  BrokerFeed(Client* client, EventHub* hub);

  // One attempt to subscribe to what is not subscribed yet; false: retry
  // later (RetryInBackground). Also tells the hub each topic's end.
  bool Start();
  // Leaves and deletes the groups (best effort: a gateway killed leaves its
  // group behind, with no members).
  void Stop();

 private:
  Client* client_;
  EventHub* hub_;
  const std::string group_;
  std::array<std::optional<SubscriptionId>, kFollowedTopics.size()> subscriptions_;  // Start/Stop's thread
};

}  // namespace herald::services
