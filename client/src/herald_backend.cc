// HeraldBackend: publishing and subscribing wired to the one I/O thread.
// The admin requests are in admin.cc.

#include "herald_backend.h"

namespace herald::client_detail {

std::unique_ptr<Backend> MakeHeraldBackend(ClientOptions options) {
  return std::make_unique<HeraldBackend>(std::move(options));
}

void HeraldBackend::Publish(const std::string& topic, Message message, PublishCallback done) {
  publisher_.Publish(topic, std::move(message), std::move(done));
}

std::error_code HeraldBackend::Flush(std::chrono::milliseconds timeout) {
  return publisher_.Flush(timeout);
}

std::error_code HeraldBackend::Subscribe(const SubscribeOptions& options, MessageHandler handler,
                                  SubscriptionId* id) {
  std::promise<std::error_code> result;
  SubscriptionId sid;
  {
    MutexLock lock(mu_);
    sid = next_subscription_++;
  }
  asio::post(io_, [&] {
    subscriber_->Add(sid, options, std::move(handler),
                            [&](std::error_code ec) { result.set_value(ec); });
  });
  std::error_code ec = result.get_future().get();
  if (!ec && id) *id = sid;
  return ec;
}

std::error_code HeraldBackend::Unsubscribe(SubscriptionId id) {
  std::promise<std::error_code> result;
  asio::post(io_, [&] {
    subscriber_->Remove(id, [&](std::error_code ec) { result.set_value(ec); });
  });
  return result.get_future().get();
}

}  // namespace herald::client_detail
