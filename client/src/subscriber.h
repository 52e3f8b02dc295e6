#pragma once
// Subscriber: the client's subscriptions. Each one is (re)bound to a broker
// subscription id on every connection; deliveries for a binding run the
// user's handler, and acks queued through a Delivery go back as one Ack
// frame per binding per I/O-thread turn. Acks of a binding from an earlier
// connection are dropped: the broker has already put those messages back for
// redelivery.
//
// Thread: the client's I/O thread, except the Queue* methods (any thread).

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <asio/io_context.hpp>

#include "backend.h"
#include "connection.h"
#include "herald/client.h"
#include "schemas/thread_annotations.h"

namespace herald::client_detail {

class Subscriber;

// One binding of a subscription to a broker subscription id on one connection.
// A Delivery settles through it (backend.h).
class HeraldBinding final : public SubscriptionState,
                            public std::enable_shared_from_this<HeraldBinding> {
 public:
  void Ack(const ReceivedMessage& message) override;
  void Nack(const ReceivedMessage& message, std::chrono::milliseconds delay,
            const std::string& reason) override;
  void ExtendDeadline(const ReceivedMessage& message) override;

  std::weak_ptr<Subscriber> subscriber;
  SubscriptionId id = 0;
  uint32_t broker_id = 0;
  std::string topic;
  std::string group;
};

class Subscriber : public std::enable_shared_from_this<Subscriber> {
 public:
  Subscriber(asio::io_context& io, Connection& connection, const ClientOptions& options);

  // `joined` runs once, with the result of the first Subscribe.
  void Add(SubscriptionId id, SubscribeOptions options, MessageHandler handler,
           std::function<void(std::error_code)> joined);
  void Remove(SubscriptionId id, std::function<void(std::error_code)> done);

  void OnConnected();
  void OnDisconnected();
  void OnDeliver(const wire::Deliver& deliver);
  void Clear();

  void QueueAck(const std::shared_ptr<HeraldBinding>& binding, uint64_t offset);
  void QueueNack(const std::shared_ptr<HeraldBinding>& binding, uint64_t offset,
                 std::chrono::milliseconds delay, const std::string& reason);
  void QueueExtendDeadline(const std::shared_ptr<HeraldBinding>& binding, uint64_t offset);

 private:
  struct Subscription {
    SubscribeOptions options;
    MessageHandler handler;
    std::shared_ptr<HeraldBinding> binding;  // null while not bound
    bool joined = false;  // the first Subscribe succeeded
  };

  void SendSubscribe(SubscriptionId id, std::function<void(std::error_code)> joined);
  void FlushAcks();
  // Sends the frame `build` makes for the binding's broker id on the I/O
  // thread, after the acks queued so far (dropped if the binding is stale).
  void QueueAfterAcks(const std::shared_ptr<HeraldBinding>& binding,
                      std::function<wire::EncodedFrame(uint32_t broker_id)> build);

  asio::io_context& io_;
  Connection& connection_;
  const ClientOptions& options_;
  std::map<SubscriptionId, Subscription> subscriptions_;
  std::unordered_map<uint32_t, SubscriptionId> by_broker_id_;  // current connection only

  Mutex ack_mu_;
  std::map<std::shared_ptr<HeraldBinding>, std::vector<uint64_t>> acks_ GUARDED_BY(ack_mu_);
  bool ack_flush_posted_ GUARDED_BY(ack_mu_) = false;
};

}  // namespace herald::client_detail
