#pragma once
// SubscriberSink: what a consumer group hands messages to. The network
// session implements it; the dispatcher never sees a socket (like Asio's
// chat_participant). Groups hold sinks by weak_ptr so a closed session
// cannot be kept alive by the groups it had joined.

#include <cstdint>
#include <span>

#include "broker/storage/message_ref.h"

namespace herald::broker {

struct OutgoingDelivery {
  MessageRef message;
  uint32_t delivery_count = 1;
};

class SubscriberSink {
 public:
  virtual ~SubscriberSink() = default;

  // False while the sink's outgoing bytes are above its limit: the group then
  // holds further deliveries until the sink reports it drained
  // (ConsumerGroup::OnSinkWritable).
  virtual bool Writable() const = 0;

  // Sends `batch` as deliveries of subscription `subscription_id`.
  virtual void Deliver(uint32_t subscription_id, std::span<const OutgoingDelivery> batch) = 0;
};

}  // namespace herald::broker
