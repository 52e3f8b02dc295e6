#include "broker/dispatch/topic.h"

#include <memory>
#include <span>
#include <vector>

#include <catch2/catch.hpp>

#include "broker/logging.h"
#include "fake_log.h"

using namespace herald::broker;
using namespace std::chrono_literals;

namespace {

class CountingSink : public SubscriberSink {
 public:
  std::vector<uint64_t> offsets;
  bool Writable() const override { return true; }
  void Deliver(uint32_t, std::span<const OutgoingDelivery> batch) override {
    for (const auto& d : batch) offsets.push_back(d.message.offset());
  }
};

struct Fixture {
  asio::io_context io;
  Topic topic{7, "t", std::make_unique<herald::test::FakeLog>()};

  Fixture() { EnsureLoggers(); }

  std::shared_ptr<ConsumerGroup> AddGroup(const std::string& name) {
    auto group = std::make_shared<ConsumerGroup>(io, &topic.log(), name, GroupPosition{}, GroupLimits{});
    topic.AddGroup(group);
    return group;
  }
  void Run() {
    io.restart();
    io.poll();
  }
};

}  // namespace

TEST_CASE("topic: an appended batch reaches every group of the topic", "[unit][topic]") {
  Fixture f;
  auto g1 = f.AddGroup("g1"), g2 = f.AddGroup("g2");
  auto a = std::make_shared<CountingSink>(), b = std::make_shared<CountingSink>();
  g1->AddMember(a, 1, 1000, 30s);
  g2->AddMember(b, 2, 1000, 30s);
  f.Run();
  f.topic.OnAppended(herald::test::FakeLog::MakeBatch(0, {"", "k", ""}));
  f.Run();
  CHECK(f.topic.log().end() == 3);
  CHECK(a->offsets == std::vector<uint64_t>{0, 1, 2});
  CHECK(b->offsets == std::vector<uint64_t>{0, 1, 2});
}

TEST_CASE("topic: truncation is counted by every group it overtakes", "[unit][topic]") {
  Fixture f;
  f.topic.OnAppended(herald::test::FakeLog::MakeBatch(0, std::vector<std::string>(10, "")));
  auto behind = f.AddGroup("behind");
  auto ahead = f.AddGroup("ahead");
  REQUIRE(ahead->Reset(8));
  f.topic.OnTruncated(5);
  CHECK(f.topic.log().earliest() == 5);
  CHECK(behind->Stats().skipped == 5);
  CHECK(behind->Stats().ack_floor == 5);
  CHECK(ahead->Stats().skipped == 0);
  CHECK(ahead->Stats().ack_floor == 8);
}

TEST_CASE("topic: a removed group's deliveries stay in the topic's counts", "[unit][topic]") {
  Fixture f;
  f.topic.OnAppended(herald::test::FakeLog::MakeBatch(0, {"", ""}));
  auto group = f.AddGroup("g");
  auto a = std::make_shared<CountingSink>();
  group->AddMember(a, 1, 1000, 30s);
  f.Run();
  REQUIRE(a->offsets.size() == 2);
  f.topic.RemoveGroup("g");
  CHECK(f.topic.FindGroup("g") == nullptr);
  CHECK(f.topic.removed_groups_delivered().messages == 2);
  CHECK(f.topic.removed_groups_delivered().bytes == 2 * std::string_view("payload").size());
}
