#include "post_store.h"

#include <chrono>
#include <thread>

#include <catch2/catch.hpp>

#include "tests/support/temp_dir.h"

using namespace herald;
using namespace herald::services;

namespace {

struct Fixture {
  herald::test::TempDir dir;
  std::unique_ptr<rocksdb::DB> db;
  // Nothing listens at port 1: staged events stay in the outbox, to be counted.
  Client client{{.broker = "127.0.0.1:1", .request_timeout = std::chrono::milliseconds(200)}};
  std::unique_ptr<Outbox> outbox;
  std::unique_ptr<PostStore> store;
  uint64_t offset = 0;
  Fixture() {
    rocksdb::Options o;
    o.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    REQUIRE(rocksdb::DB::Open(o, dir.str(), &raw).ok());
    db.reset(raw);
    REQUIRE(db->Put(rocksdb::WriteOptions(), "post/p1", R"({"id":"p1","author":"a","title":"t","created_ms":1})").ok());
    outbox = std::make_unique<Outbox>(db.get(), db->DefaultColumnFamily(), &client);
    store = std::make_unique<PostStore>(db.get(), outbox.get());
  }
  ~Fixture() {
    store.reset();
    outbox.reset();  // before the database it relays from
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

TEST_CASE("post_store: each applied comment event stages one post-updated, a redelivery none", "[unit][post_store]") {
  Fixture f;
  f.Created("e1", "c1");
  CHECK(f.outbox->Pending() == 1);
  f.Created("e1", "c1");  // redelivered: not applied again
  CHECK(f.outbox->Pending() == 1);
  f.Deleted("d1", "c1");
  CHECK(f.outbox->Pending() == 2);
}

TEST_CASE("post_store: cards page newest first, before a given post", "[unit][post_store]") {
  Fixture f;
  std::vector<std::string> ids;  // oldest first
  for (int i = 0; i < 5; ++i) {
    nlohmann::json post;
    REQUIRE(f.store->Create("a", "title " + std::to_string(i), std::string(300, 'x'), &post).ok());
    ids.push_back(post["id"]);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // distinct creation times
  }
  auto first = f.store->Cards(2, "");
  REQUIRE(first);
  REQUIRE(first->size() == 2);
  CHECK((*first)[0]["id"] == ids[4]);
  CHECK((*first)[1]["id"] == ids[3]);
  CHECK((*first)[0]["excerpt"].get<std::string>().size() < 300);
  auto second = f.store->Cards(2, ids[3]);
  REQUIRE(second);
  REQUIRE(second->size() == 2);
  CHECK((*second)[0]["id"] == ids[2]);
  CHECK((*second)[1]["id"] == ids[1]);
  auto last = f.store->Cards(10, ids[1]);
  REQUIRE(last);
  REQUIRE(last->size() == 1);  // p1 of the fixture has no created_at, and no time/ key
  CHECK((*last)[0]["id"] == ids[0]);
  CHECK_FALSE(f.store->Cards(2, "no-such-post"));
}

TEST_CASE("post_store: posts stored without the time index are listed once it is built", "[unit][post_store]") {
  Fixture f;
  REQUIRE(f.db->Put(rocksdb::WriteOptions(), "post/old",
                    R"({"id":"old","author":"a","title":"old","content":"c","created_at":"2026-01-01T00:00:00.000Z"})")
              .ok());
  nlohmann::json post;
  REQUIRE(f.store->Create("a", "new", "c", &post).ok());
  CHECK(f.store->Cards(10, "")->size() == 1);
  REQUIRE(f.store->IndexOldPosts().ok());
  auto cards = f.store->Cards(10, "");
  REQUIRE(cards->size() == 2);
  CHECK((*cards)[0]["id"] == post["id"]);
  CHECK((*cards)[1]["id"] == "old");
  REQUIRE(f.store->IndexOldPosts().ok());  // once: a second call changes nothing
  CHECK(f.store->Cards(10, "")->size() == 2);
}
