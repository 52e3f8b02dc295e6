// Client: the facade that wires the connection, the publisher and the
// subscriber to one I/O thread.

#include "herald/client.h"

#include <condition_variable>
#include <mutex>
#include <thread>

#include <asio/executor_work_guard.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include "connection.h"
#include "publisher.h"
#include "subscriber.h"

namespace herald {

using client_detail::Clock;

class Client::Impl : public client_detail::ConnectionListener {
 public:
  explicit Impl(ClientOptions options)
      : options_(std::move(options)),
        work_(asio::make_work_guard(io_)),
        connection_(io_, options_, this),
        publisher_(io_, connection_, options_),
        subscriber_(std::make_shared<client_detail::Subscriber>(io_, connection_, options_)),
        tick_(io_) {
    asio::post(io_, [this] {
      connection_.Start();
      Tick();
    });
    thread_ = std::thread([this] {
      io_thread_ = std::this_thread::get_id();
      io_.run();
    });
  }

  ~Impl() override {
    asio::post(io_, [this] {
      tick_.cancel();
      subscriber_->Clear();
      connection_.Stop();
      publisher_.FailQueued(make_error_code(errc::client_closed));
      work_.reset();
      io_.stop();
    });
    thread_.join();
  }

  bool OnIoThread() const { return std::this_thread::get_id() == io_thread_; }

  // ConnectionListener
  void OnConnected() override {
    {
      std::lock_guard lock(mu_);
      connected_ = true;
    }
    cv_.notify_all();
    subscriber_->OnConnected();
  }
  void OnDisconnected() override {
    {
      std::lock_guard lock(mu_);
      connected_ = false;
    }
    subscriber_->OnDisconnected();
  }
  void OnDeliver(const wire::Deliver& deliver) override { subscriber_->OnDeliver(deliver); }

  std::error_code WaitConnected(std::chrono::milliseconds timeout) {
    if (OnIoThread()) return make_error_code(errc::called_from_callback);
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return connected_; })
               ? std::error_code()
               : make_error_code(errc::not_connected);
  }

  // Sends one request built by `build` and waits for its reply, which
  // `on_reply` reads (on the I/O thread) while the frame is valid.
  std::error_code Call(std::function<wire::EncodedFrame(uint64_t request_id)> build,
                       std::function<std::error_code(const wire::Frame&)> on_reply) {
    if (OnIoThread()) return make_error_code(errc::called_from_callback);
    std::promise<std::error_code> result;
    asio::post(io_, [&] {
      uint64_t id = connection_.NextRequestId();
      connection_.Request(
          id, client_detail::Share(build(id)),
          [&](std::error_code ec, const wire::Frame* reply) {
            if (!ec && reply != nullptr) {
              if (const auto* err = reply->body_as_ErrorReply()) {
                ec = make_error_code(static_cast<errc>(err->code()));
              } else {
                ec = on_reply(*reply);
              }
            }
            result.set_value(ec);
          },
          Clock::now() + options_.request_timeout, /*resend=*/false);
    });
    return result.get_future().get();
  }

  void Tick() {
    connection_.ExpireRequests(Clock::now());
    tick_.expires_after(std::chrono::milliseconds(100));
    tick_.async_wait([this](std::error_code ec) {
      if (!ec) Tick();
    });
  }

  ClientOptions options_;
  asio::io_context io_{1};
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  client_detail::Connection connection_;
  client_detail::Publisher publisher_;
  std::shared_ptr<client_detail::Subscriber> subscriber_;
  asio::steady_timer tick_;
  std::thread thread_;
  std::thread::id io_thread_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool connected_ = false;
  SubscriptionId next_subscription_ = 1;
};

namespace {

void FillTopicInfo(const wire::TopicInfo& in, TopicInfo* out) {
  out->name = in.name() ? in.name()->str() : "";
  out->earliest_offset = in.earliest_offset();
  out->next_offset = in.next_offset();
  out->groups.clear();
  if (in.groups()) {
    for (const wire::GroupInfo* g : *in.groups()) {
      if (g == nullptr) continue;
      out->groups.push_back({g->name() ? g->name()->str() : "", g->ack_floor(), g->members(),
                             g->in_flight(), g->read_cursor(), g->ready()});
    }
  }
}

std::error_code Unexpected() { return make_error_code(errc::protocol_violation); }

}  // namespace

Client::Client(ClientOptions options) : impl_(std::make_shared<Impl>(std::move(options))) {}
Client::~Client() = default;

std::error_code Client::WaitConnected(std::chrono::milliseconds timeout) {
  return impl_->WaitConnected(timeout);
}

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

std::error_code Client::CreateTopic(const std::string& name, bool* created) {
  return impl_->Call(
      [&](uint64_t id) {
        flatbuffers::FlatBufferBuilder fbb(64 + name.size());
        auto n = fbb.CreateString(name);
        return wire::FinishFrame(fbb, id, wire::CreateCreateTopic(fbb, n));
      },
      [&](const wire::Frame& reply) {
        const auto* ok = reply.body_as_CreateTopicOk();
        if (!ok) return Unexpected();
        if (created) *created = ok->created();
        return std::error_code();
      });
}

std::error_code Client::DeleteTopic(const std::string& name) {
  return impl_->Call(
      [&](uint64_t id) {
        flatbuffers::FlatBufferBuilder fbb(64 + name.size());
        auto n = fbb.CreateString(name);
        return wire::FinishFrame(fbb, id, wire::CreateDeleteTopic(fbb, n));
      },
      [&](const wire::Frame& reply) { return reply.body_as_Ok() ? std::error_code() : Unexpected(); });
}

std::error_code Client::ListTopics(std::vector<TopicInfo>* topics) {
  return impl_->Call(
      [&](uint64_t id) {
        flatbuffers::FlatBufferBuilder fbb(64);
        return wire::FinishFrame(fbb, id, wire::CreateListTopics(fbb));
      },
      [&](const wire::Frame& reply) {
        const auto* list = reply.body_as_TopicList();
        if (!list) return Unexpected();
        topics->clear();
        if (list->topics()) {
          for (const wire::TopicInfo* t : *list->topics()) {
            if (t == nullptr) continue;
            FillTopicInfo(*t, &topics->emplace_back());
          }
        }
        return std::error_code();
      });
}

std::error_code Client::DescribeTopic(const std::string& name, TopicInfo* info) {
  return impl_->Call(
      [&](uint64_t id) {
        flatbuffers::FlatBufferBuilder fbb(64 + name.size());
        auto n = fbb.CreateString(name);
        return wire::FinishFrame(fbb, id, wire::CreateDescribeTopic(fbb, n));
      },
      [&](const wire::Frame& reply) {
        const auto* t = reply.body_as_TopicInfo();
        if (!t) return Unexpected();
        FillTopicInfo(*t, info);
        return std::error_code();
      });
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
