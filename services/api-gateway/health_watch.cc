#include "health_watch.h"

#include <httplib.h>

namespace herald::services {

HealthWatch::HealthWatch(std::vector<Service> services, std::chrono::milliseconds period, EventHub* hub)
    : services_(std::move(services)), period_(period), hub_(hub) {
  for (const auto& s : services_) up_[s.name] = true;
  thread_ = std::thread([this] { Run(); });
}

HealthWatch::~HealthWatch() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

nlohmann::json HealthWatch::Status() {
  std::lock_guard lock(mu_);
  return nlohmann::json::parse(StatusEvent().data);
}

LiveEvent HealthWatch::StatusEvent() const {
  nlohmann::json services = nlohmann::json::object();
  for (const auto& [name, up] : up_) services[name] = up;
  return LiveEvent{LiveEvent::kNoTopic, 0, "status", nlohmann::json{{"services", services}}.dump()};
}

void HealthWatch::Report(const std::string& name, bool up) {
  std::lock_guard lock(mu_);
  auto it = up_.find(name);
  if (it == up_.end() || it->second == up) return;
  it->second = up;
  hub_->Put(StatusEvent());
  // A service reported down is checked again at once: the watch, not the
  // next failed request, tells the browsers when it is back.
  recheck_ = true;
  wake_.notify_all();
}

bool HealthWatch::Answers(const std::string& address) {
  httplib::Client c(address.c_str());
  c.set_connection_timeout(1);
  c.set_read_timeout(1);
  auto r = c.Get("/healthz");
  return r && r->status == 200;
}

void HealthWatch::Run() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    lock.unlock();
    std::map<std::string, bool> now;
    for (const auto& s : services_) now[s.name] = Answers(s.address);
    lock.lock();
    if (now != up_) {
      up_ = now;
      hub_->Put(StatusEvent());
    }
    wake_.wait_for(lock, period_, [&] { return stop_ || recheck_; });
    recheck_ = false;
  }
}

}  // namespace herald::services
