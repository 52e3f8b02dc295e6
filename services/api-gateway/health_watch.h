#pragma once
// HealthWatch: whether each service behind the gateway answers, asked once a
// period by the gateway (GET /healthz) instead of by every browser. A change
// goes to the browsers as a "status" event; a new event stream starts with
// the current status. So a page shows a banner while a service is down and
// recovers by itself when it is back, without polling.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "event_hub.h"

namespace herald::services {

class HealthWatch {
 public:
  struct Service {
    std::string name;     // "post-service"
    std::string address;  // HOST:PORT
  };

  // Starts the watching thread; *hub must outlive the watch.
  HealthWatch(std::vector<Service> services, std::chrono::milliseconds period, EventHub* hub);
  ~HealthWatch();  // stops the thread
  HealthWatch(const HealthWatch&) = delete;
  HealthWatch& operator=(const HealthWatch&) = delete;

  // {"services": {"post-service": true, ...}}: up (true) or not, as of the
  // last check; a service not checked yet counts as up.
  nlohmann::json Status();
  // Records that a request to the service just failed (or succeeded), so
  // that browsers hear of it before the next check.
  void Report(const std::string& name, bool up);

 private:
  void Run();
  static bool Answers(const std::string& address);
  // Under mu_: the status event of the current state.
  LiveEvent StatusEvent() const;

  const std::vector<Service> services_;
  const std::chrono::milliseconds period_;
  EventHub* hub_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::map<std::string, bool> up_;  // guarded by mu_
  bool stop_ = false;               // guarded by mu_
  bool recheck_ = false;            // guarded by mu_: check now, not after the period
  std::thread thread_;
};

}  // namespace herald::services
