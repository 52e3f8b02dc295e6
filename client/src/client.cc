// Client: the facade over one Backend (backend.h), chosen by the scheme of
// ClientOptions::broker. The blocking calls are refused on the backend's
// callback thread here, for every backend.

#include "herald/client.h"

#include <spdlog/spdlog.h>

#include "backend.h"

namespace herald {

class Client::Impl {
 public:
  explicit Impl(std::unique_ptr<client_detail::Backend> b) : backend(std::move(b)) {}
  std::unique_ptr<client_detail::Backend> backend;
};

Delivery::Delivery(std::shared_ptr<SubscriptionState> sub, ReceivedMessage msg, std::shared_ptr<const void> keep)
    : sub_(std::move(sub)), msg_(std::move(msg)), keep_(std::move(keep)) {}

void Delivery::ack() const { sub_->Ack(msg_); }

void Delivery::nack(std::chrono::milliseconds delay, const std::string& reason) const {
  sub_->Nack(msg_, delay, reason);
}

void Delivery::extend_deadline() const { sub_->ExtendDeadline(msg_); }

namespace {

std::unique_ptr<client_detail::Backend> MakeBackend(ClientOptions options) {
  // The backends log from their own threads through spdlog's default logger,
  // which spdlog makes on first use. Made here, before any of those threads
  // exist, it is not made by two of them at once (two clients losing the
  // broker in the same instant did that: a TSan report in a CI run).
  spdlog::default_logger_raw();
  BrokerUrl url;
  std::error_code ec = ParseBrokerUrl(options.broker, &url);
  if (ec) return client_detail::MakeFailingBackend(ec);
  if (url.kind == BackendKind::nats) {
    return client_detail::MakeNatsBackend(std::move(options), std::move(url.servers));
  }
  options.broker = url.address;
  return client_detail::MakeHeraldBackend(std::move(options));
}

}  // namespace

Client::Client(ClientOptions options) : impl_(std::make_shared<Impl>(MakeBackend(std::move(options)))) {}
Client::~Client() = default;

std::error_code Client::WaitConnected(std::chrono::milliseconds timeout) {
  if (impl_->backend->OnCallbackThread()) return make_error_code(errc::called_from_callback);
  return impl_->backend->WaitConnected(timeout);
}

std::string Client::Principal() const { return impl_->backend->Principal(); }

void Client::Publish(const std::string& topic, Message message, PublishCallback done) {
  impl_->backend->Publish(topic, std::move(message), std::move(done));
}

std::future<PublishResult> Client::Publish(const std::string& topic, Message message) {
  auto promise = std::make_shared<std::promise<PublishResult>>();
  auto future = promise->get_future();
  Publish(topic, std::move(message), [promise](const PublishResult& r) { promise->set_value(r); });
  return future;
}

PublishResult Client::PublishSync(const std::string& topic, Message message) {
  if (impl_->backend->OnCallbackThread()) return {make_error_code(errc::called_from_callback)};
  return Publish(topic, std::move(message)).get();
}

std::error_code Client::Flush(std::chrono::milliseconds timeout) {
  if (impl_->backend->OnCallbackThread()) return make_error_code(errc::called_from_callback);
  return impl_->backend->Flush(timeout);
}

std::error_code Client::Subscribe(const SubscribeOptions& options, MessageHandler handler,
                                  SubscriptionId* id) {
  if (impl_->backend->OnCallbackThread()) return make_error_code(errc::called_from_callback);
  return impl_->backend->Subscribe(options, std::move(handler), id);
}

std::error_code Client::Unsubscribe(SubscriptionId id) {
  if (impl_->backend->OnCallbackThread()) return make_error_code(errc::called_from_callback);
  return impl_->backend->Unsubscribe(id);
}

// Admin requests: each backend refuses them on its callback thread itself.
std::error_code Client::CreateTopic(const std::string& name, bool* created) {
  return impl_->backend->CreateTopic(name, nullptr, created);
}
std::error_code Client::CreateTopic(const std::string& name, const Retention& retention,
                                    bool* created) {
  return impl_->backend->CreateTopic(name, &retention, created);
}
std::error_code Client::DeleteTopic(const std::string& name) {
  return impl_->backend->DeleteTopic(name);
}
std::error_code Client::ListTopics(std::vector<TopicInfo>* topics) {
  topics->clear();
  TopicPage page;
  std::string after;
  do {
    if (std::error_code ec = impl_->backend->ListTopics(after, 0, &page)) return ec;
    for (TopicInfo& t : page.topics) topics->push_back(std::move(t));
    // Names only grow from page to page; a cursor that does not would loop forever.
    if (!page.next.empty() && page.next <= after) return make_error_code(errc::protocol_violation);
    after = std::move(page.next);
  } while (!after.empty());
  return {};
}
std::error_code Client::ListTopics(const std::string& after, uint32_t limit, TopicPage* page) {
  return impl_->backend->ListTopics(after, limit, page);
}
std::error_code Client::DescribeTopic(const std::string& name, TopicInfo* info) {
  return impl_->backend->DescribeTopic(name, info);
}
std::error_code Client::AlterTopic(const std::string& name, const Retention& retention,
                                   TopicInfo* info) {
  return impl_->backend->AlterTopic(name, retention, info);
}
std::error_code Client::PurgeTopic(const std::string& name, TopicInfo* info) {
  return impl_->backend->PurgeTopic(name, info);
}
std::error_code Client::DescribeGroup(const std::string& topic, const std::string& group,
                                      GroupInfo* info) {
  return impl_->backend->DescribeGroup(topic, group, info);
}
std::error_code Client::ResetGroup(const std::string& topic, const std::string& group,
                                   StartPosition to, GroupInfo* info) {
  return impl_->backend->ResetGroup(topic, group, to, info);
}
std::error_code Client::DeleteGroup(const std::string& topic, const std::string& group) {
  return impl_->backend->DeleteGroup(topic, group);
}
std::error_code Client::Status(BrokerStatus* status) { return impl_->backend->Status(status); }
std::error_code Client::Fetch(const std::string& topic, StartPosition from, uint32_t max_messages,
                              FetchResult* result) {
  return impl_->backend->Fetch(topic, from, max_messages, result);
}

}  // namespace herald
