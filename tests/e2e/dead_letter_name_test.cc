// Dead letters of topics with the longest names: TOPIC.dlq would be above the
// name limit, so the broker names the dead-letter topic with
// wire::DeadLetterTopicName. Before, such a poison message was never
// dead-lettered, and its key stayed blocked for the group for good.

#include <mutex>
#include <set>

#include <catch2/catch.hpp>

#include "herald/client.h"
#include "schemas/names.h"
#include "tests/support/server_process.h"

using namespace std::chrono_literals;
using herald::test::BrokerProcess;
using herald::test::Eventually;

TEST_CASE("dead letters: a topic of the longest name has a dead-letter topic", "[e2e][dlq]") {
  BrokerProcess broker;
  herald::Client client({.broker = broker.address()});
  for (std::size_t length : {herald::wire::kMaxNameLength - 4, herald::wire::kMaxNameLength}) {
    const std::string topic = "t" + std::string(length - 1, std::to_string(length).back());
    INFO("topic of " << topic.size() << " characters");
    REQUIRE_FALSE(client.CreateTopic(topic));
    REQUIRE_FALSE(client.PublishSync(topic, {.key = "k", .payload = "poison"}).error);
    REQUIRE_FALSE(client.PublishSync(topic, {.key = "k", .payload = "next"}).error);

    std::mutex mu;
    std::set<std::string> acked;
    REQUIRE_FALSE(client.Subscribe({.topic = topic, .group = "g", .max_deliveries = 1},
                                   [&](const herald::Delivery& d) {
      if (d.message().payload == "poison") return d.nack(0ms, "bad");
      std::lock_guard lock(mu);
      acked.insert(std::string(d.message().payload));
      d.ack();
    }));
    // The key's next message comes only once the poison one is stored as a dead letter.
    CHECK(Eventually([&] {
      std::lock_guard lock(mu);
      return acked.count("next") == 1;
    }, 10s));
    herald::TopicInfo dlq;
    CHECK_FALSE(client.DescribeTopic(herald::wire::DeadLetterTopicName(topic), &dlq));
    CHECK(dlq.message_count == 1);
  }
}
