#pragma once
// A service's start-up against the broker: the topics it uses, and the
// subscriptions it holds until it stops. Apart from service.cc, whose request
// parsing the JSON fuzzer compiles without the SDK.

#include <initializer_list>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "herald/client.h"

namespace herald::services {

// Creates the topics a service uses (idempotent). Under least privilege the
// service may not create topics (NotAuthorized): an operator made them, and
// that is not an error. False on any other error, to be retried.
bool EnsureTopics(Client& client, std::initializer_list<const char*> topics, const std::string& service);

// The subscriptions a service holds, taken by its set-up thread (Add, retried
// by RetryInBackground) and ended by Leave at stop. After Leave no handler of
// theirs runs again, so the objects the handlers touch (a store, an outbox)
// may then be destroyed: declare this after them, or call Leave first.
class Subscriptions {
 public:
  explicit Subscriptions(Client& client) : client_(client) {}
  ~Subscriptions() { Leave(); }
  Subscriptions(const Subscriptions&) = delete;
  Subscriptions& operator=(const Subscriptions&) = delete;

  // Subscribes unless a subscription to the same topic and group is held
  // already, so that a set-up step retried after a partial success does not
  // join twice.
  std::error_code Add(const SubscribeOptions& options, MessageHandler handler);
  void Leave();

 private:
  Client& client_;
  std::mutex mu_;  // guards held_: Add runs on the set-up thread, Leave on main
  std::vector<std::pair<std::string, SubscriptionId>> held_;  // "topic/group", id
};

}  // namespace herald::services
