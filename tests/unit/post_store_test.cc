#include "post_store.h"

#include <catch2/catch.hpp>

#include "tests/support/temp_dir.h"

using namespace herald;
using namespace herald::services;

namespace {

struct Fixture {
  herald::test::TempDir dir;
  std::unique_ptr<rocksdb::DB> db;
  std::unique_ptr<PostStore> store;
  uint64_t offset = 0;
  Fixture() {
    rocksdb::Options o;
    o.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    REQUIRE(rocksdb::DB::Open(o, dir.str(), &raw).ok());
    db.reset(raw);
    REQUIRE(db->Put(rocksdb::WriteOptions(), "post/p1", R"({"id":"p1","author":"a","title":"t","created_ms":1})").ok());
    store = std::make_unique<PostStore>(db.get(), nullptr);  // applying events needs no outbox
  }
  ReceivedMessage Msg(const std::string& topic, const std::string& event_id) {
    ReceivedMessage m;
    m.topic = topic;
    m.offset = offset++;
    m.headers.push_back({"event-id", event_id});
    return m;
  }
  void Created(const std::string& event_id, const std::string& comment) {
    CommentEvent e{event_id, comment, "p1", "bob", "hi", 1};
    REQUIRE(store->ApplyCommentCreated(Msg(kCommentCreated, event_id), e).ok());
  }
  void Deleted(const std::string& event_id, const std::string& comment) {
    CommentEvent e{event_id, comment, "p1", "bob", "", 2};
    REQUIRE(store->ApplyCommentDeleted(Msg(kCommentDeleted, event_id), e).ok());
  }
  int64_t Count() { return (*store->Get("p1"))["comment_count"]; }
};

}  // namespace

TEST_CASE("post_store: a redelivered event changes the count once", "[unit][post_store]") {
  Fixture f;
  f.Created("e1", "c1");
  f.Created("e1", "c1");
  CHECK(f.Count() == 1);
  f.Created("e2", "c1");  // the outbox republished it under a new event id: still one comment
  CHECK(f.Count() == 1);
  f.Created("e3", "c2");
  CHECK(f.Count() == 2);
}

TEST_CASE("post_store: a delete before its create, or twice, never drives the count wrong", "[unit][post_store]") {
  Fixture f;
  f.Deleted("d1", "c1");
  CHECK(f.Count() == 0);
  f.Created("e1", "c1");  // arrives late: the comment is already gone
  CHECK(f.Count() == 0);
  f.Created("e2", "c2");
  f.Deleted("d2", "c2");
  f.Deleted("d3", "c2");
  CHECK(f.Count() == 0);
}
