#include "broker/storage/record_batch.h"

#include <catch2/catch.hpp>

#include "broker/storage/group_position.h"

using namespace herald::broker;

namespace {

std::string ThreeRecordBatch() {
  RecordBatchBuilder b(3, 1234567, 64);
  std::string_view key = "post-7";
  b.StartRecord(&key, 2);
  b.AddHeader("trace", "abc");
  b.AddHeader("bin", std::string("\0\xff", 2));
  b.FinishRecord("first");
  b.StartRecord(nullptr, 0);
  b.FinishRecord("");
  std::string_view empty_key;
  b.StartRecord(&empty_key, 0);
  b.FinishRecord(std::string(1000, 'x'));
  return b.Finish();
}

}  // namespace

TEST_CASE("record_batch: round-trips keys, headers and payloads", "[unit][record_batch]") {
  auto batch = RecordBatch::Parse(100, ThreeRecordBatch());
  REQUIRE(batch);
  CHECK(batch->base_offset() == 100);
  CHECK(batch->end_offset() == 103);
  CHECK(batch->timestamp_ms() == 1234567);
  REQUIRE(batch->count() == 3);

  const RecordView& first = batch->record(0);
  CHECK(first.has_key);
  CHECK(first.key == "post-7");
  CHECK(first.payload == "first");
  std::vector<std::pair<std::string, std::string>> headers;
  REQUIRE(ForEachHeader(first.headers, first.header_count, [&](auto n, auto v) {
    headers.emplace_back(std::string(n), std::string(v));
  }));
  REQUIRE(headers.size() == 2);
  CHECK(headers[0] == std::make_pair(std::string("trace"), std::string("abc")));
  CHECK(headers[1].second == std::string("\0\xff", 2));

  CHECK_FALSE(batch->record(1).has_key);
  CHECK(batch->record(1).payload.empty());
  CHECK(batch->record(2).has_key);  // an empty key is still a key
  CHECK(batch->record(2).key.empty());
  CHECK(batch->record(2).payload.size() == 1000);
  CHECK(RecordBatch::PeekCount(batch->bytes()) == 3);
}

TEST_CASE("record_batch: RecordBytes and HeaderBytes add up to the encoded size", "[unit][record_batch]") {
  // The publish handler allocates a batch from these sizes: an error either
  // way costs a reallocation or memory held until the batch leaves the cache.
  std::string_view key = "post-7";
  std::string_view empty_key;
  const std::size_t records =
      RecordBatchBuilder::RecordBytes(&key, 2, 5) + RecordBatchBuilder::HeaderBytes(5, 3) +
      RecordBatchBuilder::HeaderBytes(3, 2) + RecordBatchBuilder::RecordBytes(nullptr, 0, 0) +
      RecordBatchBuilder::RecordBytes(&empty_key, 0, 1000);
  CHECK(ThreeRecordBatch().size() == RecordBatch::kHeaderBytes + records);

  for (std::size_t payload : {0u, 127u, 128u, 16383u, 16384u, 1u << 21}) {
    std::string long_key(200, 'k');
    std::string_view k = long_key;
    RecordBatchBuilder b(1, 1, 0);
    b.StartRecord(&k, 1);
    b.AddHeader(std::string(130, 'n'), "");
    b.FinishRecord(std::string(payload, 'p'));
    INFO("payload " << payload);
    CHECK(b.Finish().size() == RecordBatch::kHeaderBytes + RecordBatchBuilder::RecordBytes(&k, 1, payload) +
                                   RecordBatchBuilder::HeaderBytes(130, 0));
  }
}

TEST_CASE("record_batch: rejects every truncation and trailing garbage", "[unit][record_batch]") {
  const std::string good = ThreeRecordBatch();
  for (std::size_t n = 0; n < good.size(); ++n) {
    INFO("truncated to " << n << " bytes");
    CHECK_FALSE(RecordBatch::Parse(0, good.substr(0, n)));
  }
  CHECK_FALSE(RecordBatch::Parse(0, good + "x"));
}

TEST_CASE("record_batch: rejects a count larger than the value can hold", "[unit][record_batch]") {
  std::string bad = ThreeRecordBatch();
  bad[1] = '\xff';
  bad[2] = '\xff';
  bad[3] = '\xff';
  bad[4] = '\x7f';
  CHECK_FALSE(RecordBatch::Parse(0, bad));
}

TEST_CASE("group_position: round-trips and rejects corrupt values", "[unit][group_position]") {
  GroupPosition p;
  p.ack_floor = 1'000'000;
  p.acked_above = {1'000'001, 1'000'005, 1'200'000};
  auto decoded = GroupPosition::Decode(p.Encode());
  REQUIRE(decoded);
  CHECK(decoded->ack_floor == p.ack_floor);
  CHECK(decoded->acked_above == p.acked_above);

  std::string bytes = p.Encode();
  for (std::size_t n = 0; n < bytes.size(); ++n) CHECK_FALSE(GroupPosition::Decode(bytes.substr(0, n)));
  CHECK_FALSE(GroupPosition::Decode(bytes + "\x01"));
}

TEST_CASE("group_position: keeps the group's policy and counters", "[unit][group_position]") {
  GroupPosition p;
  p.ack_floor = 7;
  p.acked_above = {9};
  p.max_deliveries = 4;
  p.backoff_ms = {1000, 5000, 30000};
  p.skipped = 11;
  p.dead_lettered = 2;
  p.redeliveries = 13;
  auto d = GroupPosition::Decode(p.Encode());
  REQUIRE(d);
  CHECK(d->max_deliveries == 4);
  CHECK(d->backoff_ms == p.backoff_ms);
  CHECK(d->skipped == 11);
  CHECK(d->dead_lettered == 2);
  CHECK(d->redeliveries == 13);
}

TEST_CASE("group_position: reads the format-1 values stored before groups had a policy",
          "[unit][group_position]") {
  // u8 1 | varint floor 5 | varint n 1 | delta 2  ->  floor 5, acked {7}
  auto d = GroupPosition::Decode(std::string("\x01\x05\x01\x02", 4));
  REQUIRE(d);
  CHECK(d->ack_floor == 5);
  CHECK(d->acked_above == std::vector<uint64_t>{7});
  CHECK(d->max_deliveries == 0);  // the broker's default applies
  CHECK(d->backoff_ms.empty());
  CHECK_FALSE(GroupPosition::Decode(std::string("\x03\x05\x00", 3)));  // unknown format
}
