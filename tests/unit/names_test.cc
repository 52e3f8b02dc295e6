#include "schemas/names.h"

#include <catch2/catch.hpp>

namespace wire = herald::wire;

TEST_CASE("names: every valid topic has a valid dead-letter topic", "[unit][names]") {
  for (std::size_t length = 1; length <= wire::kMaxNameLength; ++length) {
    INFO("length " << length);
    std::string topic(length, 'a');
    std::string dlq = wire::DeadLetterTopicName(topic);
    REQUIRE(wire::IsValidName(dlq));
    // A dead-letter topic is a topic too: its own dead-letter topic is valid.
    REQUIRE(wire::IsValidName(wire::DeadLetterTopicName(dlq)));
    REQUIRE(dlq != topic);
  }
}

TEST_CASE("names: a dead-letter topic is TOPIC.dlq while that fits", "[unit][names]") {
  CHECK(wire::DeadLetterTopicName("payments") == "payments.dlq");
  std::string longest_plain(wire::kMaxNameLength - 4, 'x');
  CHECK(wire::DeadLetterTopicName(longest_plain) == longest_plain + ".dlq");
}

TEST_CASE("names: longer names keep a prefix and a hash of the whole name", "[unit][names]") {
  std::string a(wire::kMaxNameLength, 'x'), b = a;
  b.back() = 'y';  // differs only past the kept prefix
  std::string dlq_a = wire::DeadLetterTopicName(a), dlq_b = wire::DeadLetterTopicName(b);
  CHECK(dlq_a.size() == wire::kMaxNameLength);
  CHECK(dlq_a != dlq_b);
  CHECK(dlq_a.starts_with(a.substr(0, 228) + "-"));
  CHECK(dlq_a.ends_with(".dlq"));
  CHECK(wire::DeadLetterTopicName(a) == dlq_a);  // the same name every time
}
