#include "herald/testing/in_process_broker.h"

#include <filesystem>
#include <random>
#include <stdexcept>
#include <thread>

#include "broker/broker.h"

namespace herald::testing {

class InProcessBroker::Impl {
 public:
  explicit Impl(InProcessBrokerOptions options) : options_(std::move(options)) {
    if (options_.data_dir.empty()) {
      std::random_device rd;
      options_.data_dir = (std::filesystem::temp_directory_path() /
                           ("herald-inproc-" + std::to_string(rd()) + std::to_string(rd())))
                              .string();
      owns_dir_ = true;
    }
    Start("127.0.0.1:0");
  }

  ~Impl() {
    Stop();
    if (owns_dir_) {
      std::error_code ec;
      std::filesystem::remove_all(options_.data_dir, ec);
    }
  }

  void Start(const std::string& listen) {
    broker::BrokerConfig config;
    config.listen = listen;
    config.data_dir = options_.data_dir;
    config.fsync = options_.fsync ? broker::FsyncPolicy::kAlways : broker::FsyncPolicy::kNever;
    broker::Status s = broker::Broker::Open(config, &broker_);
    if (!s.ok()) throw std::runtime_error("in-process broker: " + s.message());
    port_ = broker_->local_endpoint().port();
    thread_ = std::thread([b = broker_.get()] { b->Run(); });
  }

  void Stop() {
    if (!broker_) return;
    broker_->Stop();
    thread_.join();
    broker_.reset();
  }

  void Restart() {
    Stop();
    Start("127.0.0.1:" + std::to_string(port_));
  }

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  const std::string& data_dir() const { return options_.data_dir; }

 private:
  InProcessBrokerOptions options_;
  bool owns_dir_ = false;
  std::unique_ptr<broker::Broker> broker_;
  std::thread thread_;
  uint16_t port_ = 0;
};

InProcessBroker::InProcessBroker(InProcessBrokerOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}
InProcessBroker::~InProcessBroker() = default;
std::string InProcessBroker::address() const { return impl_->address(); }
const std::string& InProcessBroker::data_dir() const { return impl_->data_dir(); }
void InProcessBroker::Restart() { impl_->Restart(); }

}  // namespace herald::testing
