#include "broker/storage/record_batch.h"

#include <catch2/catch.hpp>

#include "broker/storage/group_position.h"
#include "schemas/crc32c.h"
#include "schemas/varint.h"

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
  CHECK(ThreeRecordBatch().size() == herald::wire::batch::kHeaderBytes + records);

  for (std::size_t payload : {0u, 127u, 128u, 16383u, 16384u, 1u << 21}) {
    std::string long_key(200, 'k');
    std::string_view k = long_key;
    RecordBatchBuilder b(1, 1, 0);
    b.StartRecord(&k, 1);
    b.AddHeader(std::string(130, 'n'), "");
    b.FinishRecord(std::string(payload, 'p'));
    INFO("payload " << payload);
    CHECK(b.Finish().size() == herald::wire::batch::kHeaderBytes + RecordBatchBuilder::RecordBytes(&k, 1, payload) +
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
  const std::size_t count = herald::wire::batch::kCountOffset;
  bad[count] = '\xff';
  bad[count + 1] = '\xff';
  bad[count + 2] = '\xff';
  bad[count + 3] = '\x7f';
  CHECK_FALSE(RecordBatch::Parse(0, bad));
}

namespace {

void SetFixed32(std::string* s, std::size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) (*s)[at + i] = static_cast<char>(v >> (8 * i));
}

}  // namespace

TEST_CASE("record_batch: Check accepts a built batch, and still does after the broker fields are set",
          "[unit][record_batch]") {
  namespace batch = herald::wire::batch;
  std::string b = ThreeRecordBatch();
  std::size_t largest = 0;
  CHECK(batch::Check(b, &largest) == batch::Problem::kNone);
  CHECK(largest == 1000);
  batch::SetBrokerFields(b.data(), 77, 1'700'000'000'123);
  CHECK(batch::Check(b) == batch::Problem::kNone);
  auto header = batch::ReadHeader(b);
  REQUIRE(header);
  CHECK(header->format == batch::kFormat);
  CHECK(header->base_offset == 77);
  CHECK(header->timestamp_ms == 1'700'000'000'123);
  CHECK(header->count == 3);
}

TEST_CASE("record_batch: Check rejects a flipped byte in the CRC'd range, truncation and bad counts",
          "[unit][record_batch]") {
  namespace batch = herald::wire::batch;
  const std::string good = ThreeRecordBatch();
  for (std::size_t i = batch::kCrcStart; i < good.size(); i += 7) {
    std::string bad = good;
    bad[i] ^= 0x10;
    INFO("flipped byte " << i);
    CHECK(batch::Check(bad) == batch::Problem::kBadCrc);
  }
  for (std::size_t n : {std::size_t{0}, std::size_t{5}, batch::kHeaderBytes - 1}) {
    CHECK(batch::Check(good.substr(0, n)) == batch::Problem::kTruncated);
  }
  CHECK(batch::Check(good.substr(0, good.size() - 1)) == batch::Problem::kBadLength);
  std::string other_format = good;
  other_format[0] = 1;
  CHECK(batch::Check(other_format) == batch::Problem::kUnknownFormat);

  // A count that the records do not match, with a CRC that does.
  for (uint32_t claimed : {0u, 2u, 4u, 60'000u}) {
    std::string bad = good;
    SetFixed32(&bad, batch::kCountOffset, claimed);
    SetFixed32(&bad, batch::kCrcOffset,
               herald::crc32c::Extend(0, bad.data() + batch::kCrcStart, bad.size() - batch::kCrcStart));
    INFO("claimed " << claimed);
    CHECK(batch::Check(bad) == (claimed == 0 ? batch::Problem::kNoRecords : batch::Problem::kBadCount));
  }
}

TEST_CASE("record_batch: a format-1 batch (older data dirs) still parses", "[unit][record_batch]") {
  // u8 format 1 | u32 count | i64 timestamp | records
  std::string v1("\x01", 1);
  herald::codec::PutFixed32(&v1, 2);
  herald::codec::PutFixed64(&v1, 1234);
  for (std::string_view payload : {"one", "two"}) {
    herald::codec::PutVarint(&v1, 0);  // no key
    herald::codec::PutVarint(&v1, 0);  // no headers
    herald::codec::PutVarint(&v1, payload.size());
    v1.append(payload);
  }
  auto batch = RecordBatch::Parse(10, v1);
  REQUIRE(batch);
  CHECK(batch->count() == 2);
  CHECK(batch->timestamp_ms() == 1234);
  CHECK(batch->record(1).payload == "two");
  CHECK(RecordBatch::PeekCount(v1) == 2);
  CHECK(RecordBatch::PeekTimestamp(v1) == 1234);
  // Format 1 is read from storage only: the broker never takes it from the wire.
  CHECK(herald::wire::batch::Check(v1) != herald::wire::batch::Problem::kNone);
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
