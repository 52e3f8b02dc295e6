#pragma once
// The seam between the public Client and the engine behind it. Client (client.cc)
// parses ClientOptions::broker, makes one Backend and forwards every call to it:
//
//   "HOST:PORT", "herald://HOST:PORT"        -> the Herald backend (herald_backend.h):
//                                               brokerd over Herald's wire protocol
//   "nats://HOST:PORT[,HOST:PORT...]"        -> the NATS JetStream backend (nats/)
//
// A Backend implements the whole public API with the same threading contract
// (client.h): callbacks on one thread of its own, blocking calls refused
// there with errc::called_from_callback. A request that does not map onto the
// engine fails with errc::not_supported. No backend type leaks into the
// public headers.

#include <chrono>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "herald/broker_url.h"
#include "herald/client.h"

namespace herald {

// What a Delivery settles its message through: each backend's subscription
// binding implements it. Any thread; calls after the first are ignored by the
// backends' own bookkeeping where the engine needs that.
class SubscriptionState {
 public:
  virtual ~SubscriptionState() = default;
  virtual void Ack(const ReceivedMessage& message) = 0;
  virtual void Nack(const ReceivedMessage& message, std::chrono::milliseconds delay,
                    const std::string& reason) = 0;
  virtual void ExtendDeadline(const ReceivedMessage& message) = 0;
};

}  // namespace herald

namespace herald::client_detail {

class Backend {
 public:
  virtual ~Backend() = default;

  virtual std::error_code WaitConnected(std::chrono::milliseconds timeout) = 0;
  virtual std::string Principal() = 0;

  virtual void Publish(const std::string& topic, Message message, PublishCallback done) = 0;
  // Whether the caller runs on the backend's callback thread.
  virtual bool OnCallbackThread() const = 0;
  virtual std::error_code Flush(std::chrono::milliseconds timeout) = 0;

  virtual std::error_code Subscribe(const SubscribeOptions& options, MessageHandler handler,
                                    SubscriptionId* id) = 0;
  virtual std::error_code Unsubscribe(SubscriptionId id) = 0;

  // retention == nullptr: the engine's default retention.
  virtual std::error_code CreateTopic(const std::string& name, const Retention* retention,
                                      bool* created) = 0;
  virtual std::error_code DeleteTopic(const std::string& name) = 0;
  // One page of the listing (Client::ListTopics pages through all of them).
  virtual std::error_code ListTopics(const std::string& after, uint32_t limit, TopicPage* page) = 0;
  virtual std::error_code DescribeTopic(const std::string& name, TopicInfo* info) = 0;
  virtual std::error_code AlterTopic(const std::string& name, const Retention& retention,
                                     TopicInfo* info) = 0;
  virtual std::error_code PurgeTopic(const std::string& name, TopicInfo* info) = 0;
  virtual std::error_code DescribeGroup(const std::string& topic, const std::string& group,
                                        GroupInfo* info) = 0;
  virtual std::error_code ResetGroup(const std::string& topic, const std::string& group,
                                     StartPosition to, GroupInfo* info) = 0;
  virtual std::error_code DeleteGroup(const std::string& topic, const std::string& group) = 0;
  virtual std::error_code Status(BrokerStatus* status) = 0;
  virtual std::error_code Fetch(const std::string& topic, StartPosition from,
                                uint32_t max_messages, FetchResult* result) = 0;
};

std::unique_ptr<Backend> MakeHeraldBackend(ClientOptions options);
std::unique_ptr<Backend> MakeNatsBackend(ClientOptions options, std::vector<std::string> servers);
// Fails every request with `error` (a broker URL that does not parse).
std::unique_ptr<Backend> MakeFailingBackend(std::error_code error);

}  // namespace herald::client_detail
