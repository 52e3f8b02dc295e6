#include "broker/dispatch/consumer_group.h"

#include <algorithm>
#include <future>
#include <map>
#include <thread>

#include <catch2/catch.hpp>

#include "broker/logging.h"
#include "fake_log.h"

using namespace herald::broker;
using namespace std::chrono_literals;

namespace {

// Records what a group hands to one member.
class RecordingSink : public SubscriberSink {
 public:
  bool writable = true;
  std::vector<std::pair<uint64_t, uint32_t>> got;  // (offset, delivery_count)
  std::vector<std::string> keys;

  bool Writable() const override { return writable; }
  void Deliver(uint32_t, std::span<const OutgoingDelivery> batch) override {
    for (const auto& d : batch) {
      got.emplace_back(d.message.offset(), d.delivery_count);
      keys.emplace_back(d.message.record().key);
    }
  }
  std::vector<uint64_t> Offsets() const {
    std::vector<uint64_t> out;
    for (auto [o, c] : got) out.push_back(o);
    return out;
  }
};

// A group on a log in memory (no store): messages are appended to the log
// and the group is told, as Topic::OnAppended does.
struct Fixture {
  herald::test::FakeLog log;
  asio::io_context io;

  Fixture() { EnsureLoggers(); }

  // Appends one message per key ("" = no key) as one batch; returns the first offset.
  uint64_t Append(const std::vector<std::string>& keys) { return log.Append(keys); }

  std::shared_ptr<ConsumerGroup> Group(GroupPosition start = {}, GroupLimits limits = {}) {
    return std::make_shared<ConsumerGroup>(io, &log, "g", start, limits);
  }

  void Run() {
    io.restart();
    io.poll();
  }
};

}  // namespace

TEST_CASE("consumer_group: members share the messages, each exactly once", "[unit][consumer_group]") {
  Fixture f;
  f.Append(std::vector<std::string>(100, ""));
  auto group = f.Group();
  auto a = std::make_shared<RecordingSink>(), b = std::make_shared<RecordingSink>();
  group->AddMember(a, 1, 1000, 30s);
  group->AddMember(b, 2, 1000, 30s);
  f.Run();
  CHECK(a->got.size() + b->got.size() == 100);
  CHECK(a->got.size() > 0);
  CHECK(b->got.size() > 0);
  std::vector<uint64_t> all = a->Offsets();
  auto bo = b->Offsets();
  all.insert(all.end(), bo.begin(), bo.end());
  std::sort(all.begin(), all.end());
  for (uint64_t i = 0; i < 100; ++i) REQUIRE(all[i] == i);
}

TEST_CASE("consumer_group: a member never holds more than its window", "[unit][consumer_group]") {
  Fixture f;
  f.Append(std::vector<std::string>(50, ""));
  auto group = f.Group();
  auto a = std::make_shared<RecordingSink>();
  uint64_t member = group->AddMember(a, 1, /*window=*/10, 30s);
  f.Run();
  REQUIRE(a->got.size() == 10);
  std::vector<uint64_t> first = a->Offsets();
  group->Ack(member, first);
  f.Run();
  CHECK(a->got.size() == 20);
  CHECK(group->Stats().ack_floor == 10);
  CHECK(group->Stats().in_flight == 10);
}

TEST_CASE("consumer_group: no delivery to a sink that is not writable", "[unit][consumer_group]") {
  Fixture f;
  f.Append(std::vector<std::string>(5, ""));
  auto group = f.Group();
  auto a = std::make_shared<RecordingSink>();
  a->writable = false;
  group->AddMember(a, 1, 1000, 30s);
  f.Run();
  CHECK(a->got.empty());
  a->writable = true;
  group->OnSinkWritable();
  f.Run();
  CHECK(a->got.size() == 5);
}

TEST_CASE("consumer_group: a key's next message waits for the ack of the previous", "[unit][consumer_group]") {
  Fixture f;
  f.Append({"k1", "k1", "k2", "", "k1", "k2"});
  auto group = f.Group();
  auto a = std::make_shared<RecordingSink>(), b = std::make_shared<RecordingSink>();
  uint64_t member_a = group->AddMember(a, 1, 1000, 30s);
  uint64_t member_b = group->AddMember(b, 2, 1000, 30s);
  f.Run();
  // First round: the first message of each key plus the keyless one.
  std::map<uint64_t, bool> out;
  for (auto o : a->Offsets()) out[o] = true;
  for (auto o : b->Offsets()) out[o] = true;
  CHECK(out == std::map<uint64_t, bool>{{0, true}, {2, true}, {3, true}});
  const std::vector<uint64_t> a_held = a->Offsets();
  const bool a_holds_0 = std::find(a_held.begin(), a_held.end(), 0) != a_held.end();
  group->Ack(a_holds_0 ? member_a : member_b, std::vector<uint64_t>{0});
  f.Run();
  for (auto o : a->Offsets()) out[o] = true;
  for (auto o : b->Offsets()) out[o] = true;
  CHECK(out.count(1) == 1);   // k1's second message, now that offset 0 is acked
  CHECK(out.count(4) == 0);   // k1's third waits for offset 1
  CHECK(out.count(5) == 0);   // k2's second waits for offset 2
}

TEST_CASE("consumer_group: a nacked keyed message goes out again before its key's later ones", "[unit][consumer_group]") {
  Fixture f;
  f.Append({"k", "k"});
  auto group = f.Group();
  auto a = std::make_shared<RecordingSink>();
  uint64_t member = group->AddMember(a, 1, 1000, 30s);
  f.Run();
  REQUIRE(a->Offsets() == std::vector<uint64_t>{0});
  group->Nack(member, std::vector<uint64_t>{0}, 0ms);
  f.Run();
  REQUIRE(a->got.size() == 2);
  CHECK(a->got[1] == std::make_pair(uint64_t{0}, uint32_t{2}));  // redelivered, count 2
  group->Ack(member, std::vector<uint64_t>{0});
  f.Run();
  REQUIRE(a->got.size() == 3);
  CHECK(a->got[2].first == 1);
}

TEST_CASE("consumer_group: a member cannot settle what another member holds, or what nobody holds", "[unit][consumer_group]") {
  Fixture f;
  f.Append(std::vector<std::string>(6, ""));
  auto group = f.Group();
  auto a = std::make_shared<RecordingSink>(), b = std::make_shared<RecordingSink>();
  uint64_t member_a = group->AddMember(a, 1, /*window=*/2, 50ms);
  uint64_t member_b = group->AddMember(b, 2, /*window=*/2, 50ms);
  f.Run();
  const auto delivered = ConsumerGroup::Clock::now();
  REQUIRE(a->got.size() == 2);
  REQUIRE(b->got.size() == 2);
  REQUIRE(group->Stats().ready == 2);  // read, handed to nobody yet
  const std::vector<uint64_t> a_held = a->Offsets();
  std::vector<uint64_t> unheld;
  for (uint64_t o = 0; o < 6; ++o) {
    auto in = [o](const std::vector<uint64_t>& v) { return std::find(v.begin(), v.end(), o) != v.end(); };
    if (!in(a_held) && !in(b->Offsets())) unheld.push_back(o);
  }
  REQUIRE(unheld.size() == 2);
  // The clock moves on, so that an extension made now would be seen in the deadlines.
  for (int spins = 0; spins < 1'000'000 && ConsumerGroup::Clock::now() <= delivered; ++spins) {
  }

  group->Ack(member_b, a_held);
  group->Ack(member_b, unheld);
  group->Nack(member_b, a_held, 0ms);
  group->ExtendDeadline(member_b, a_held);
  f.Run();
  CHECK(group->Stats().ack_floor == 0);
  CHECK(group->Stats().in_flight == 4);
  CHECK(group->Stats().ready == 2);
  CHECK(a->got.size() == 2);  // no redelivery from b's nack
  CHECK(b->got.size() == 2);

  // b's extension did not count: a's deliveries expire at their own deadline.
  group->Tick(delivered + 50ms);
  CHECK(group->Stats().in_flight == 0);
  REQUIRE(group->Stats().ready == 6);
  // Back for redelivery, they are a's to ack late, still not b's.
  group->Ack(member_b, a_held);
  CHECK(group->Stats().ready == 6);
  group->Ack(member_a, a_held);
  CHECK(group->Stats().ready == 4);
}

TEST_CASE("consumer_group: a leaving member's messages go to the others", "[unit][consumer_group]") {
  Fixture f;
  f.Append(std::vector<std::string>(4, ""));
  auto group = f.Group();
  auto a = std::make_shared<RecordingSink>();
  uint64_t member_a = group->AddMember(a, 1, 1000, 30s);
  f.Run();
  REQUIRE(a->got.size() == 4);
  auto b = std::make_shared<RecordingSink>();
  group->AddMember(b, 2, 1000, 30s);
  group->RemoveMember(member_a);
  f.Run();
  REQUIRE(b->got.size() == 4);
  for (auto [offset, count] : b->got) CHECK(count == 2);
}

TEST_CASE("consumer_group: an expired ack deadline redelivers", "[unit][consumer_group]") {
  Fixture f;
  f.Append({""});
  auto group = f.Group();
  auto a = std::make_shared<RecordingSink>();
  group->AddMember(a, 1, 1000, 50ms);
  f.Run();
  REQUIRE(a->got.size() == 1);
  group->Tick(ConsumerGroup::Clock::now());  // not yet due
  f.Run();
  CHECK(a->got.size() == 1);
  group->Tick(ConsumerGroup::Clock::now() + 100ms);
  f.Run();
  REQUIRE(a->got.size() == 2);
  CHECK(a->got[1].second == 2);
}

TEST_CASE("consumer_group: the position resumes without redelivering acked messages", "[unit][consumer_group]") {
  Fixture f;
  f.Append(std::vector<std::string>(6, ""));
  GroupPosition saved;
  {
    auto group = f.Group();
    auto a = std::make_shared<RecordingSink>();
    uint64_t member = group->AddMember(a, 1, 1000, 30s);
    f.Run();
    group->Ack(member, std::vector<uint64_t>{0, 1, 3, 5});
    CHECK(group->TakeDirty());
    saved = group->Position();
    CHECK(saved.ack_floor == 2);
    CHECK(saved.acked_above == std::vector<uint64_t>{3, 5});
  }
  auto resumed = f.Group(saved);
  auto b = std::make_shared<RecordingSink>();
  resumed->AddMember(b, 1, 1000, 30s);
  f.Run();
  CHECK(b->Offsets() == std::vector<uint64_t>{2, 4});
}

TEST_CASE("consumer_group: new messages reach members already waiting", "[unit][consumer_group]") {
  Fixture f;
  auto group = f.Group();
  auto a = std::make_shared<RecordingSink>();
  group->AddMember(a, 1, 1000, 30s);
  f.Run();
  CHECK(a->got.empty());
  f.Append({"", ""});
  group->OnLogAppended();
  f.Run();
  CHECK(a->got.size() == 2);
}

TEST_CASE("consumer_group: after max deliveries a message goes to the dead-letter sink", "[unit][consumer_group]") {
  Fixture f;
  f.Append({"k", "k", ""});
  GroupLimits limits;
  limits.default_max_deliveries = 2;
  auto group = f.Group({}, limits);
  std::vector<DeadLetter> letters;
  std::vector<std::function<void(bool)>> pending;
  group->set_dead_letter_sink([&](DeadLetter l, std::function<void(bool)> done) {
    letters.push_back(std::move(l));
    pending.push_back(std::move(done));
  });
  auto a = std::make_shared<RecordingSink>();
  uint64_t member = group->AddMember(a, 1, 1000, 30s);
  f.Run();
  // Offset 1 (same key as 0) waits for 0; offset 2 goes out at once.
  REQUIRE(a->Offsets() == std::vector<uint64_t>{0, 2});
  group->Ack(member, std::vector<uint64_t>{2});
  const uint64_t poison[] = {0};
  group->Nack(member, poison, 0ms, "first");
  f.Run();
  REQUIRE(a->got.back() == std::pair<uint64_t, uint32_t>{0, 2});
  group->Nack(member, poison, 0ms, "second");
  f.Run();
  REQUIRE(letters.size() == 1);
  CHECK(letters[0].message.offset() == 0);
  CHECK(letters[0].delivery_count == 2);
  CHECK(letters[0].reason == "second");
  CHECK(letters[0].group == "g");
  // Until the letter is stored the key stays owned: offset 1 is not delivered yet.
  CHECK(a->got.size() == 3);
  CHECK(group->Stats().lag == 2);
  pending[0](true);
  f.Run();
  CHECK(a->got.back().first == 1);
  CHECK(group->Stats().dead_lettered == 1);
  group->Ack(member, std::vector<uint64_t>{1});
  CHECK(group->Stats().ack_floor == 3);
  CHECK(group->Stats().lag == 0);
  CHECK(group->Position().dead_lettered == 1);
}

TEST_CASE("consumer_group: a dead letter that cannot be stored stays with the group", "[unit][consumer_group]") {
  Fixture f;
  f.Append({""});
  GroupLimits limits;
  limits.default_max_deliveries = 1;
  auto group = f.Group({}, limits);
  int attempts = 0;
  group->set_dead_letter_sink([&](DeadLetter, std::function<void(bool)> done) {
    ++attempts;
    done(false);
  });
  auto a = std::make_shared<RecordingSink>();
  uint64_t member = group->AddMember(a, 1, 1000, 30s);
  f.Run();
  const uint64_t offsets[] = {0};
  group->Nack(member, offsets, 0ms, "bad");
  f.Run();
  CHECK(attempts == 1);
  CHECK(group->Stats().ready == 1);  // back for another try after a pause
  CHECK(group->Stats().dead_lettered == 0);
  CHECK(group->Stats().ack_floor == 0);
}

TEST_CASE("consumer_group: a group behind the log's start counts what it skipped", "[unit][consumer_group]") {
  Fixture f;
  f.Append(std::vector<std::string>(10, ""));
  auto group = f.Group();
  f.log.OnTruncated(6);
  group->OnLogTruncated();
  CHECK(group->Stats().skipped == 6);
  CHECK(group->Stats().ack_floor == 6);
  CHECK(group->Stats().lag == 4);
  auto a = std::make_shared<RecordingSink>();
  group->AddMember(a, 1, 1000, 30s);
  f.Run();
  CHECK(a->Offsets() == std::vector<uint64_t>{6, 7, 8, 9});
}

TEST_CASE("consumer_group: reset needs an idle group and forgets what was read", "[unit][consumer_group]") {
  Fixture f;
  f.Append(std::vector<std::string>(5, ""));
  auto group = f.Group();
  auto a = std::make_shared<RecordingSink>();
  uint64_t member = group->AddMember(a, 1, 1000, 30s);
  f.Run();
  group->Ack(member, a->Offsets());
  CHECK_FALSE(group->Reset(0));
  group->RemoveMember(member);
  REQUIRE(group->Reset(2));
  CHECK(group->Stats().ack_floor == 2);
  CHECK(group->Stats().lag == 3);
  auto b = std::make_shared<RecordingSink>();
  group->AddMember(b, 2, 1000, 30s);
  f.Run();
  CHECK(b->Offsets() == std::vector<uint64_t>{2, 3, 4});
}

TEST_CASE("consumer_group: one member gets the log in offset order, across batches", "[unit][consumer_group]") {
  Fixture f;
  f.Append({"a", "b"});
  f.Append({"", "c", "a"});
  f.Append({"d"});
  auto group = f.Group();
  auto a = std::make_shared<RecordingSink>();
  uint64_t member = group->AddMember(a, 1, 1000, 30s);
  f.Run();
  // Key "a" has a second message (offset 4) that waits for the ack of offset 0.
  CHECK(a->Offsets() == std::vector<uint64_t>{0, 1, 2, 3, 5});
  group->Ack(member, std::vector<uint64_t>{0});
  f.Run();
  CHECK(a->Offsets() == std::vector<uint64_t>{0, 1, 2, 3, 5, 4});
  for (auto [offset, count] : a->got) CHECK(count == 1);
}

TEST_CASE("consumer_group: the ack floor moves only over a run of acked offsets", "[unit][consumer_group]") {
  Fixture f;
  f.Append(std::vector<std::string>(5, ""));
  auto group = f.Group();
  auto a = std::make_shared<RecordingSink>();
  uint64_t member = group->AddMember(a, 1, 1000, 30s);
  f.Run();
  group->Ack(member, std::vector<uint64_t>{1, 2, 4});
  CHECK(group->Stats().ack_floor == 0);
  CHECK(group->Stats().lag == 2);
  CHECK(group->Position().acked_above == std::vector<uint64_t>{1, 2, 4});
  group->Ack(member, std::vector<uint64_t>{0});
  CHECK(group->Stats().ack_floor == 3);
  CHECK(group->Position().acked_above == std::vector<uint64_t>{4});
  group->Ack(member, std::vector<uint64_t>{3});
  CHECK(group->Stats().ack_floor == 5);
  CHECK(group->Stats().lag == 0);
  CHECK(group->Stats().in_flight == 0);
}

TEST_CASE("consumer_group: a nack's delay holds the redelivery until it is due", "[unit][consumer_group]") {
  Fixture f;
  f.Append({""});
  auto group = f.Group();
  auto a = std::make_shared<RecordingSink>();
  uint64_t member = group->AddMember(a, 1, 1000, 30s);
  f.Run();
  REQUIRE(a->got.size() == 1);
  group->Nack(member, std::vector<uint64_t>{0}, 50ms, "later");
  f.Run();
  group->Tick(ConsumerGroup::Clock::now());
  f.Run();
  CHECK(a->got.size() == 1);
  CHECK(group->Stats().ready == 1);
  // The group hands a message out by the steady clock, so the test waits it out.
  std::this_thread::sleep_for(60ms);
  group->Tick(ConsumerGroup::Clock::now());
  f.Run();
  REQUIRE(a->got.size() == 2);
  CHECK(a->got[1] == std::make_pair(uint64_t{0}, uint32_t{2}));
  CHECK(group->Stats().redeliveries == 1);
}

TEST_CASE("consumer_group: a failed log read delivers nothing until the log is read again", "[unit][consumer_group]") {
  Fixture f;
  f.Append({"", ""});
  f.log.cold = true;
  f.log.fail_reads = 1;
  auto group = f.Group();
  auto a = std::make_shared<RecordingSink>();
  group->AddMember(a, 1, 1000, 30s);
  f.Run();
  REQUIRE(f.log.CompleteReads() == 1);
  f.Run();
  CHECK(a->got.empty());
  CHECK(group->Stats().read_cursor == 0);
  f.Append({""});
  group->OnLogAppended();
  f.Run();
  REQUIRE(f.log.CompleteReads() == 1);
  f.Run();
  CHECK(a->Offsets() == std::vector<uint64_t>{0, 1, 2});
}

TEST_CASE("consumer_group: retention under a group that holds messages", "[unit][consumer_group]") {
  Fixture f;
  f.Append(std::vector<std::string>(4, ""));
  auto group = f.Group();
  auto a = std::make_shared<RecordingSink>();
  uint64_t member = group->AddMember(a, 1, /*window=*/2, 30s);
  f.Run();
  REQUIRE(a->Offsets() == std::vector<uint64_t>{0, 1});
  f.Append(std::vector<std::string>(4, ""));
  // Retention removes offsets 0..5: 0 and 1 are in flight, 2 and 3 were read
  // ahead, 4 and 5 were never read (the group was not told of their append).
  f.log.OnTruncated(6);
  group->OnLogTruncated();
  f.Run();
  // Offsets 4 and 5 were never read: skipped. What the group holds (in
  // flight, or read ahead) keeps its batch alive and goes out as usual.
  CHECK(group->Stats().skipped == 2);
  group->Ack(member, std::vector<uint64_t>{0, 1});
  f.Run();
  CHECK(group->Stats().ack_floor == 2);
  CHECK(a->Offsets() == std::vector<uint64_t>{0, 1, 2, 3});
  group->Ack(member, std::vector<uint64_t>{2, 3});
  f.Run();
  // The floor passes over the skipped offsets; the member goes on at the log's start.
  CHECK(group->Stats().ack_floor == 6);
  CHECK(a->Offsets() == std::vector<uint64_t>{0, 1, 2, 3, 6, 7});
  group->Ack(member, std::vector<uint64_t>{6, 7});
  CHECK(group->Stats().ack_floor == 8);
  CHECK(group->Stats().lag == 0);
  CHECK(group->Stats().skipped == 2);
}

TEST_CASE("consumer_group: a read of the disk is one at a time, and delivers when it comes back",
          "[unit][consumer_group][cold_read]") {
  Fixture f;
  f.log.cold = true;
  f.Append({"", "", ""});
  auto group = f.Group();
  auto a = std::make_shared<RecordingSink>();
  group->AddMember(a, 1, 1000, 30s);
  f.Run();
  CHECK(f.log.pending_reads() == 1);
  // More wake-ups while it is out start no second read.
  f.Append({""});
  group->OnLogAppended();
  f.Run();
  CHECK(f.log.pending_reads() == 1);
  CHECK(a->got.empty());
  // It comes back with the log as it is by then, appends included.
  REQUIRE(f.log.CompleteReads() == 1);
  f.Run();
  CHECK(a->Offsets() == std::vector<uint64_t>{0, 1, 2, 3});
  CHECK(f.log.pending_reads() == 0);
  // Then new appends are read (cold again here) from where it got to.
  f.Append({""});
  group->OnLogAppended();
  f.Run();
  REQUIRE(f.log.CompleteReads() == 1);
  f.Run();
  CHECK(a->Offsets() == std::vector<uint64_t>{0, 1, 2, 3, 4});
}

TEST_CASE("consumer_group: retention while a read is out skips what it removed",
          "[unit][consumer_group][cold_read]") {
  Fixture f;
  f.log.cold = true;
  f.Append(std::vector<std::string>(6, ""));
  auto group = f.Group();
  auto a = std::make_shared<RecordingSink>();
  group->AddMember(a, 1, 1000, 30s);
  f.Run();
  REQUIRE(f.log.pending_reads() == 1);
  f.log.OnTruncated(4);
  group->OnLogTruncated();
  f.Run();
  REQUIRE(f.log.CompleteReads() == 1);
  f.Run();
  CHECK(a->Offsets() == std::vector<uint64_t>{4, 5});
  CHECK(group->Stats().skipped == 4);
}

TEST_CASE("consumer_group: a read that comes back to a closed group is dropped",
          "[unit][consumer_group][cold_read]") {
  Fixture f;
  f.log.cold = true;
  f.Append({"", ""});
  auto group = f.Group();
  auto a = std::make_shared<RecordingSink>();
  group->AddMember(a, 1, 1000, 30s);
  f.Run();
  REQUIRE(f.log.pending_reads() == 1);
  group->Close();  // the topic was deleted
  REQUIRE(f.log.CompleteReads() == 1);
  f.Run();
  CHECK(a->got.empty());
  CHECK(group->Stats().ready == 0);
}

TEST_CASE("consumer_group: a read of the state before a reset is dropped, and the new state read after it",
          "[unit][consumer_group][cold_read]") {
  Fixture f;
  f.log.cold = true;
  f.Append(std::vector<std::string>(6, ""));
  auto group = f.Group();
  auto a = std::make_shared<RecordingSink>();
  uint64_t member = group->AddMember(a, 1, 1000, 30s);
  f.Run();
  REQUIRE(f.log.pending_reads() == 1);
  group->RemoveMember(member);
  REQUIRE(group->Reset(3));
  auto b = std::make_shared<RecordingSink>();
  group->AddMember(b, 2, 1000, 30s);
  f.Run();
  CHECK(f.log.pending_reads() == 1);  // still the old one: reads never overlap
  REQUIRE(f.log.CompleteReads() == 1);
  f.Run();
  CHECK(b->got.empty());
  REQUIRE(f.log.CompleteReads() == 1);  // the new state's read, from 3
  f.Run();
  CHECK(b->Offsets() == std::vector<uint64_t>{3, 4, 5});
  CHECK(a->got.empty());
}
