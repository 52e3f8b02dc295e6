// Client: the facade that wires the connection, the publisher and the
// subscriber to one I/O thread. The admin requests are in admin.cc.

#include "herald/client.h"

#include "client_impl.h"

namespace herald {

Client::Client(ClientOptions options) : impl_(std::make_shared<Impl>(std::move(options))) {}
Client::~Client() = default;

std::error_code Client::WaitConnected(std::chrono::milliseconds timeout) {
  return impl_->WaitConnected(timeout);
}

std::string Client::Principal() const { return impl_->Principal(); }

void Client::Publish(const std::string& topic, Message message, PublishCallback done) {
  impl_->publisher_.Publish(topic, std::move(message), std::move(done));
}

std::future<PublishResult> Client::Publish(const std::string& topic, Message message) {
  auto promise = std::make_shared<std::promise<PublishResult>>();
  auto future = promise->get_future();
  Publish(topic, std::move(message), [promise](const PublishResult& r) { promise->set_value(r); });
  return future;
}

PublishResult Client::PublishSync(const std::string& topic, Message message) {
  if (impl_->OnIoThread()) return {make_error_code(errc::called_from_callback)};
  return Publish(topic, std::move(message)).get();
}

std::error_code Client::Flush(std::chrono::milliseconds timeout) {
  if (impl_->OnIoThread()) return make_error_code(errc::called_from_callback);
  return impl_->publisher_.Flush(timeout);
}

std::error_code Client::Subscribe(const SubscribeOptions& options, MessageHandler handler,
                                  SubscriptionId* id) {
  if (impl_->OnIoThread()) return make_error_code(errc::called_from_callback);
  std::promise<std::error_code> result;
  SubscriptionId sid;
  {
    std::lock_guard lock(impl_->mu_);
    sid = impl_->next_subscription_++;
  }
  asio::post(impl_->io_, [&] {
    impl_->subscriber_->Add(sid, options, std::move(handler),
                            [&](std::error_code ec) { result.set_value(ec); });
  });
  std::error_code ec = result.get_future().get();
  if (!ec && id) *id = sid;
  return ec;
}

std::error_code Client::Unsubscribe(SubscriptionId id) {
  if (impl_->OnIoThread()) return make_error_code(errc::called_from_callback);
  std::promise<std::error_code> result;
  asio::post(impl_->io_, [&] {
    impl_->subscriber_->Remove(id, [&](std::error_code ec) { result.set_value(ec); });
  });
  return result.get_future().get();
}

}  // namespace herald
