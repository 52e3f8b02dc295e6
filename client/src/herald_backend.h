#pragma once
// HeraldBackend: the Client's backend for brokerd (backend.h). The one I/O
// thread and what runs on it (connection, publisher, subscriber).
// herald_backend.cc wires publishing and subscribing, admin.cc the admin
// requests.

#include <atomic>
#include <condition_variable>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

#include <asio/executor_work_guard.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include "backend.h"
#include "connection.h"
#include "herald/client.h"
#include "publisher.h"
#include "schemas/thread_annotations.h"
#include "subscriber.h"
#include "wire_errors.h"

namespace herald::client_detail {

class HeraldBackend final : public Backend, public ConnectionListener {
 public:
  explicit HeraldBackend(ClientOptions options)
      : options_(std::move(options)),
        work_(asio::make_work_guard(io_)),
        connection_(io_, options_, this),
        publisher_(io_, connection_, options_),
        subscriber_(std::make_shared<Subscriber>(io_, connection_, options_)),
        tick_(io_) {
    asio::post(io_, [this] {
      connection_.Start();
      Tick();
    });
    thread_ = std::thread([this] {
      io_thread_.store(std::this_thread::get_id(), std::memory_order_relaxed);
      io_.run();
    });
  }

  ~HeraldBackend() override {
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

  bool OnIoThread() const { return std::this_thread::get_id() == io_thread_.load(std::memory_order_relaxed); }

  // Backend
  bool OnCallbackThread() const override { return OnIoThread(); }
  void Publish(const std::string& topic, Message message, PublishCallback done) override;
  std::error_code Flush(std::chrono::milliseconds timeout) override;
  std::error_code Subscribe(const SubscribeOptions& options, MessageHandler handler,
                            SubscriptionId* id) override;
  std::error_code Unsubscribe(SubscriptionId id) override;
  std::error_code CreateTopic(const std::string& name, const Retention* retention,
                              bool* created) override;
  std::error_code DeleteTopic(const std::string& name) override;
  std::error_code ListTopics(const std::string& after, uint32_t limit, TopicPage* page) override;
  std::error_code DescribeTopic(const std::string& name, TopicInfo* info) override;
  std::error_code AlterTopic(const std::string& name, const Retention& retention,
                             TopicInfo* info) override;
  std::error_code PurgeTopic(const std::string& name, TopicInfo* info) override;
  std::error_code DescribeGroup(const std::string& topic, const std::string& group,
                                GroupInfo* info) override;
  std::error_code ResetGroup(const std::string& topic, const std::string& group, StartPosition to,
                             GroupInfo* info) override;
  std::error_code DeleteGroup(const std::string& topic, const std::string& group) override;
  std::error_code Status(BrokerStatus* status) override;
  std::error_code Fetch(const std::string& topic, StartPosition from, uint32_t max_messages,
                        FetchResult* result) override;

  // ConnectionListener
  void OnConnected() override {
    {
      MutexLock lock(mu_);
      connected_ = true;
      refused_ = {};
      principal_ = connection_.principal();
    }
    cv_.notify_all();
    subscriber_->OnConnected();
  }
  void OnDisconnected() override {
    {
      MutexLock lock(mu_);
      connected_ = false;
    }
    subscriber_->OnDisconnected();
  }
  void OnRefused(std::error_code why) override {
    {
      MutexLock lock(mu_);
      refused_ = why;
    }
    cv_.notify_all();
  }
  void OnDeliver(const wire::Deliver& deliver) override { subscriber_->OnDeliver(deliver); }

  std::error_code WaitConnected(std::chrono::milliseconds timeout) override {
    if (OnIoThread()) return make_error_code(errc::called_from_callback);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    MutexLock lock(mu_);
    while (!connected_ && !refused_) {
      if (cv_.wait_until(mu_, deadline) == std::cv_status::timeout) break;
    }
    if (connected_) return {};
    return refused_ ? refused_ : make_error_code(errc::not_connected);
  }

  std::string Principal() override {
    MutexLock lock(mu_);
    return principal_;
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
          id, Share(build(id)),
          [&](std::error_code ec, const wire::Frame* reply) {
            if (!ec && reply != nullptr) {
              if (const auto* err = reply->body_as_ErrorReply()) {
                ec = ErrorFromWire(err->code());
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
  Connection connection_;
  Publisher publisher_;
  std::shared_ptr<Subscriber> subscriber_;
  asio::steady_timer tick_;
  std::thread thread_;
  // Set by the I/O thread as it starts, read from any thread: a caller
  // compares it with its own id only, so relaxed is enough.
  std::atomic<std::thread::id> io_thread_;

  Mutex mu_;
  std::condition_variable_any cv_;
  bool connected_ GUARDED_BY(mu_) = false;
  std::error_code refused_ GUARDED_BY(mu_);  // the connection's refusal, while it lasts
  std::string principal_ GUARDED_BY(mu_);
  SubscriptionId next_subscription_ GUARDED_BY(mu_) = 1;
};

}  // namespace herald::client_detail
