// Publishes --count messages "message-1".."message-N" to --topic, then waits
// until the broker has stored every one of them.
//
//   herald-example-publisher --broker 127.0.0.1:7400 --topic orders --count 10

#include <future>
#include <iostream>
#include <vector>

#include "example_args.h"
#include "herald/client.h"

int main(int argc, char** argv) {
  ExampleArgs args = ParseExampleArgs(argc, argv);
  herald::Client client({.broker = args.broker, .client_name = "herald-example-publisher"});

  // Creating a topic that exists is not an error; this fails when no broker
  // answers, with the reason (not connected, refused token, unknown scheme...).
  if (std::error_code ec = client.CreateTopic(args.topic)) {
    std::cerr << "create topic " << args.topic << ": " << ec.message() << "\n";
    return 1;
  }
  // Publish does not block: the client batches the messages and each future
  // is the broker's answer for one of them.
  std::vector<std::future<herald::PublishResult>> results;
  for (int i = 1; i <= args.count; ++i) {
    // One key for all: messages of a key are delivered in the order published.
    results.push_back(client.Publish(args.topic, {.key = "example", .payload = "message-" + std::to_string(i)}));
  }
  for (auto& result : results) {
    herald::PublishResult r = result.get();
    if (r.error) {
      std::cerr << "publish to " << args.topic << ": " << r.error.message() << "\n";
      return 1;
    }
  }
  std::cout << "published " << args.count << " messages to " << args.topic << "\n";
  return 0;
}
