// Reads --count messages of --topic as a member of --group (from the start of
// the topic when the group is new), prints each payload on a line of its own
// and acks it. Gives up after 30 s without the count.
//
//   herald-example-subscriber --broker 127.0.0.1:7400 --topic orders --count 10

#include <chrono>
#include <condition_variable>
#include <iostream>
#include <mutex>

#include "example_args.h"
#include "herald/client.h"

using namespace std::chrono_literals;

int main(int argc, char** argv) {
  ExampleArgs args = ParseExampleArgs(argc, argv);
  herald::Client client({.broker = args.broker, .client_name = "herald-example-subscriber"});

  std::mutex mu;
  std::condition_variable all_received;
  int received = 0;
  // The handler runs on the client's I/O thread: it must not block.
  auto handler = [&](const herald::Delivery& delivery) {
    std::lock_guard lock(mu);
    if (received == args.count) return;  // more than asked for: leave it to the group's next member
    std::cout << delivery.message().payload << "\n";
    delivery.ack();
    if (++received == args.count) all_received.notify_one();
  };
  // The subscriber may start before the publisher: make sure the topic exists.
  if (std::error_code ec = client.CreateTopic(args.topic)) {
    std::cerr << "create topic " << args.topic << ": " << ec.message() << "\n";
    return 1;
  }
  herald::SubscriptionId id = 0;
  if (std::error_code ec = client.Subscribe({.topic = args.topic, .group = args.group}, handler, &id)) {
    std::cerr << "subscribe to " << args.topic << ": " << ec.message() << "\n";
    return 1;
  }
  std::unique_lock lock(mu);
  if (!all_received.wait_for(lock, 30s, [&] { return received == args.count; })) {
    std::cerr << "received " << received << " of " << args.count << " messages in 30 s\n";
    return 1;
  }
  lock.unlock();
  client.Unsubscribe(id);
  std::cerr << "received " << args.count << " messages from " << args.topic << "\n";
  return 0;
}
