#pragma once
// InProcessBroker: the real broker (the same library brokerd runs) started
// inside a test process, on a free loopback port and a temporary data dir, so
// that a service's own tests need no separate broker process.
//
//   herald::testing::InProcessBroker broker;
//   herald::Client client({.broker = broker.address()});
//
// Link the CMake target herald_testing.

#include <memory>
#include <string>

namespace herald::testing {

struct InProcessBrokerOptions {
  // Empty: a fresh temporary directory, removed by the destructor.
  std::string data_dir;
  // Off by default: tests rarely need fsync, and it slows them down.
  bool fsync = false;
};

class InProcessBroker {
 public:
  // Starts the broker; throws std::runtime_error if it cannot.
  explicit InProcessBroker(InProcessBrokerOptions options = {});
  ~InProcessBroker();  // stops it gracefully
  InProcessBroker(const InProcessBroker&) = delete;
  InProcessBroker& operator=(const InProcessBroker&) = delete;

  // "127.0.0.1:PORT"; the port stays the same across Restart().
  std::string address() const;
  const std::string& data_dir() const;

  // Stops the broker and starts it again on the same data dir and port:
  // clients see a disconnect and reconnect.
  void Restart();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace herald::testing
