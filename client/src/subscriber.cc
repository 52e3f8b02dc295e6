#include "subscriber.h"

#include <asio/post.hpp>
#include <spdlog/spdlog.h>

#include "wire_convert.h"
#include "wire_errors.h"

namespace herald::client_detail {

void HeraldBinding::Ack(const ReceivedMessage& message) {
  if (auto s = subscriber.lock()) s->QueueAck(shared_from_this(), message.offset);
}

void HeraldBinding::Nack(const ReceivedMessage& message, std::chrono::milliseconds delay,
                         const std::string& reason) {
  if (auto s = subscriber.lock()) s->QueueNack(shared_from_this(), message.offset, delay, reason);
}

void HeraldBinding::ExtendDeadline(const ReceivedMessage& message) {
  if (auto s = subscriber.lock()) s->QueueExtendDeadline(shared_from_this(), message.offset);
}

Subscriber::Subscriber(asio::io_context& io, Connection& connection, const ClientOptions& options)
    : io_(io), connection_(connection), options_(options) {}

void Subscriber::Add(SubscriptionId id, SubscribeOptions options, MessageHandler handler,
                     std::function<void(std::error_code)> joined) {
  subscriptions_[id] = Subscription{std::move(options), std::move(handler), nullptr, false};
  SendSubscribe(id, std::move(joined));
}

void Subscriber::SendSubscribe(SubscriptionId id, std::function<void(std::error_code)> joined) {
  auto it = subscriptions_.find(id);
  if (it == subscriptions_.end()) return;
  const SubscribeOptions& o = it->second.options;
  flatbuffers::FlatBufferBuilder fbb(256);
  auto topic = fbb.CreateString(o.topic);
  auto group = fbb.CreateString(o.group);
  uint64_t request_id = connection_.NextRequestId();
  // The start goes out on every (re)subscribe: the broker reads it only when
  // it creates the group, so sending it again after a reconnect moves nothing.
  flatbuffers::Offset<flatbuffers::Vector<uint32_t>> backoff;
  if (!o.backoff.empty()) backoff = fbb.CreateVector(ToWireMillis(o.backoff));
  wire::SubscribeBuilder b(fbb);
  b.add_topic(topic);
  b.add_group(group);
  b.add_start(ToWire(o.start.from));
  b.add_window(o.window);
  b.add_ack_deadline_ms(static_cast<uint32_t>(o.ack_deadline.count()));
  b.add_start_offset(o.start.offset);
  b.add_start_timestamp_ms(o.start.timestamp_ms);
  b.add_max_deliveries(o.max_deliveries);
  if (!o.backoff.empty()) b.add_backoff_ms(backoff);
  auto frame = Share(wire::FinishFrame(fbb, request_id, b.Finish()));
  // The first Subscribe waits through reconnects; later ones are sent by OnConnected.
  bool first = static_cast<bool>(joined);
  connection_.Request(
      request_id, std::move(frame),
      [this, id, joined = std::move(joined)](std::error_code ec, const wire::Frame* reply) {
        if (!ec && reply != nullptr) {
          if (const auto* ok = reply->body_as_SubscribeOk()) {
            auto sub = subscriptions_.find(id);
            if (sub != subscriptions_.end()) {
              auto binding = std::make_shared<HeraldBinding>();
              binding->subscriber = weak_from_this();
              binding->id = id;
              binding->broker_id = ok->subscription_id();
              binding->topic = sub->second.options.topic;
              binding->group = sub->second.options.group;
              sub->second.binding = binding;
              sub->second.joined = true;
              by_broker_id_[binding->broker_id] = id;
            }
          } else if (const auto* err = reply->body_as_ErrorReply()) {
            ec = ErrorFromWire(err->code());
          } else {
            ec = make_error_code(errc::protocol_violation);
          }
        }
        if (ec && !joined && ec != errc::not_connected) {
          spdlog::error("herald client: re-subscribing to {} failed: {}", id, ec.message());
        }
        if (joined) {
          if (ec) subscriptions_.erase(id);
          joined(ec);
        }
      },
      first ? Clock::now() + options_.request_timeout : Clock::time_point::max(), /*resend=*/first);
}

void Subscriber::Remove(SubscriptionId id, std::function<void(std::error_code)> done) {
  // Acks queued by handlers may still sit in this thread's private queue of
  // posted work, behind this call (asio keeps FIFO only per posting thread):
  // send them before the Unsubscribe, or the broker redelivers what was done.
  FlushAcks();
  auto it = subscriptions_.find(id);
  if (it == subscriptions_.end()) {
    done(make_error_code(errc::subscription_not_found));
    return;
  }
  std::shared_ptr<HeraldBinding> binding = it->second.binding;
  subscriptions_.erase(it);
  if (!binding || !connection_.connected()) {
    done({});
    return;
  }
  by_broker_id_.erase(binding->broker_id);
  flatbuffers::FlatBufferBuilder fbb(64);
  uint64_t request_id = connection_.NextRequestId();
  auto frame = Share(wire::FinishFrame(fbb, request_id, wire::CreateUnsubscribe(fbb, binding->broker_id)));
  connection_.Request(
      request_id, std::move(frame),
      [done = std::move(done)](std::error_code ec, const wire::Frame*) {
        // Lost connection: the broker drops the membership with it.
        done(ec == errc::not_connected ? std::error_code() : ec);
      },
      Clock::now() + options_.request_timeout, false);
}

void Subscriber::OnConnected() {
  for (auto& [id, sub] : subscriptions_) {
    if (sub.joined) SendSubscribe(id, nullptr);
  }
}

void Subscriber::OnDisconnected() {
  by_broker_id_.clear();
  for (auto& [id, sub] : subscriptions_) sub.binding.reset();
}

void Subscriber::Clear() {
  subscriptions_.clear();
  by_broker_id_.clear();
}

void Subscriber::OnDeliver(const wire::Deliver& deliver) {
  auto found = by_broker_id_.find(deliver.subscription_id());
  if (found == by_broker_id_.end() || deliver.messages() == nullptr) return;
  auto it = subscriptions_.find(found->second);
  if (it == subscriptions_.end() || !it->second.binding) return;
  // Copy what the handler needs: the binding may change inside the handler.
  std::shared_ptr<HeraldBinding> binding = it->second.binding;
  MessageHandler handler = it->second.handler;
  for (const wire::Delivery* d : *deliver.messages()) {
    if (d == nullptr) continue;
    auto msg = std::make_shared<ReceivedMessage>();
    msg->topic = binding->topic;
    msg->group = binding->group;
    FillReceivedMessage(*d, msg.get());
    try {
      handler(Delivery(binding, std::move(msg)));
    } catch (const std::exception& e) {
      // The message stays unacked and comes back after its deadline.
      spdlog::error("herald client: handler for {}/{} threw: {}", binding->topic, binding->group, e.what());
    }
  }
}

void Subscriber::QueueAck(const std::shared_ptr<HeraldBinding>& binding, uint64_t offset) {
  bool post;
  {
    MutexLock lock(ack_mu_);
    acks_[binding].push_back(offset);
    post = !std::exchange(ack_flush_posted_, true);
  }
  if (post) asio::post(io_, [self = shared_from_this()] { self->FlushAcks(); });
}

void Subscriber::FlushAcks() {
  std::map<std::shared_ptr<HeraldBinding>, std::vector<uint64_t>> acks;
  {
    MutexLock lock(ack_mu_);
    acks.swap(acks_);
    ack_flush_posted_ = false;
  }
  for (auto& [binding, offsets] : acks) {
    auto it = subscriptions_.find(binding->id);
    // Only the current binding's acks mean anything to the broker.
    if (it == subscriptions_.end() || it->second.binding != binding) continue;
    flatbuffers::FlatBufferBuilder fbb(64 + offsets.size() * 8);
    auto vec = fbb.CreateVector(offsets);
    connection_.SendOneWay(Share(wire::FinishFrame(fbb, 0, wire::CreateAck(fbb, binding->broker_id, vec))));
  }
}

void Subscriber::QueueNack(const std::shared_ptr<HeraldBinding>& binding, uint64_t offset,
                           std::chrono::milliseconds delay, const std::string& reason) {
  // The broker keeps at most kMaxNackReasonBytes of it: send no more.
  std::string cut(wire::TruncateUtf8(reason, wire::kMaxNackReasonBytes));
  QueueAfterAcks(binding, [offset, delay, reason = std::move(cut)](uint32_t broker_id) {
    flatbuffers::FlatBufferBuilder fbb(128);
    std::vector<uint64_t> offsets{offset};
    auto vec = fbb.CreateVector(offsets);
    auto why = fbb.CreateString(reason);
    return wire::FinishFrame(
        fbb, 0, wire::CreateNack(fbb, broker_id, vec, static_cast<uint32_t>(delay.count()), why));
  });
}

void Subscriber::QueueExtendDeadline(const std::shared_ptr<HeraldBinding>& binding,
                                     uint64_t offset) {
  QueueAfterAcks(binding, [offset](uint32_t broker_id) {
    flatbuffers::FlatBufferBuilder fbb(64);
    std::vector<uint64_t> offsets{offset};
    auto vec = fbb.CreateVector(offsets);
    // request_id 0: no reply, like Ack and Nack.
    return wire::FinishFrame(fbb, 0, wire::CreateExtendDeadline(fbb, broker_id, vec));
  });
}

void Subscriber::QueueAfterAcks(const std::shared_ptr<HeraldBinding>& binding,
                                std::function<wire::EncodedFrame(uint32_t broker_id)> build) {
  asio::post(io_, [self = shared_from_this(), binding, build = std::move(build)] {
    // Acks queued before this frame must not overtake it, nor it them.
    self->FlushAcks();
    auto it = self->subscriptions_.find(binding->id);
    if (it == self->subscriptions_.end() || it->second.binding != binding) return;
    self->connection_.SendOneWay(Share(build(binding->broker_id)));
  });
}

}  // namespace herald::client_detail
