#include "backend.h"

namespace herald {

namespace {

constexpr std::string_view kHeraldScheme = "herald://";
constexpr std::string_view kNatsScheme = "nats://";

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

}  // namespace

std::error_code ParseBrokerUrl(const std::string& broker, BrokerUrl* url) {
  *url = BrokerUrl{};
  std::string_view rest = broker;
  if (StartsWith(rest, kNatsScheme)) {
    url->kind = BackendKind::nats;
    rest.remove_prefix(kNatsScheme.size());
    // "nats://a:1,b:2" and "nats://a:1,nats://b:2" both list two servers.
    while (true) {
      auto comma = rest.find(',');
      std::string_view entry = rest.substr(0, comma);
      if (StartsWith(entry, kNatsScheme)) entry.remove_prefix(kNatsScheme.size());
      if (entry.empty()) return make_error_code(errc::invalid_argument);
      url->servers.push_back(std::string(kNatsScheme) + std::string(entry));
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
    return {};
  }
  if (StartsWith(rest, kHeraldScheme)) rest.remove_prefix(kHeraldScheme.size());
  url->kind = BackendKind::herald;
  url->address = std::string(rest);
  return {};
}

const char* BackendName(BackendKind kind) {
  return kind == BackendKind::nats ? "NATS JetStream" : "brokerd";
}

}  // namespace herald

namespace herald::client_detail {

namespace {

// A backend that fails every request with one error: a broker URL that could
// not be parsed. Publish completions run at once on the caller's thread.
class FailingBackend final : public Backend {
 public:
  explicit FailingBackend(std::error_code error) : error_(error) {}

  std::error_code WaitConnected(std::chrono::milliseconds) override { return error_; }
  std::string Principal() override { return {}; }
  void Publish(const std::string&, Message, PublishCallback done) override {
    if (done) done(PublishResult{error_});
  }
  bool OnCallbackThread() const override { return false; }
  std::error_code Flush(std::chrono::milliseconds) override { return {}; }
  std::error_code Subscribe(const SubscribeOptions&, MessageHandler, SubscriptionId*) override {
    return error_;
  }
  std::error_code Unsubscribe(SubscriptionId) override { return make_error_code(errc::subscription_not_found); }
  std::error_code CreateTopic(const std::string&, const Retention*, bool*) override { return error_; }
  std::error_code DeleteTopic(const std::string&) override { return error_; }
  std::error_code ListTopics(const std::string&, uint32_t, TopicPage*) override { return error_; }
  std::error_code DescribeTopic(const std::string&, TopicInfo*) override { return error_; }
  std::error_code AlterTopic(const std::string&, const Retention&, TopicInfo*) override { return error_; }
  std::error_code PurgeTopic(const std::string&, TopicInfo*) override { return error_; }
  std::error_code DescribeGroup(const std::string&, const std::string&, GroupInfo*) override { return error_; }
  std::error_code ResetGroup(const std::string&, const std::string&, StartPosition, GroupInfo*) override {
    return error_;
  }
  std::error_code DeleteGroup(const std::string&, const std::string&) override { return error_; }
  std::error_code Status(BrokerStatus*) override { return error_; }
  std::error_code Fetch(const std::string&, StartPosition, uint32_t, FetchResult*) override { return error_; }

 private:
  std::error_code error_;
};

}  // namespace

std::unique_ptr<Backend> MakeFailingBackend(std::error_code error) {
  return std::make_unique<FailingBackend>(error);
}

}  // namespace herald::client_detail
