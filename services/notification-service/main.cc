// notification-service: a later subscriber that needed no change anywhere
// else. From post-created it learns each post's author and title; for each
// comment-created it records "NAME commented on your post TITLE" for the
// post's author. Both in its own group, each event applied once.
//
// Keys: post/<id> -> JSON {author, title};
//       note/<user in hex>/<time>/<event> -> JSON. The name is hex-encoded so
//       that one user's key prefix is never the start of another's ("bob"
//       and "bob/evil" differ in their first byte after the hex).

#include <spdlog/spdlog.h>

#include "broker_setup.h"
#include "events.h"
#include "herald/rocksdb/idempotent_consumer.h"
#include "service.h"

using namespace herald;
using namespace herald::services;

namespace {

// A comment whose post is not known yet waits for post-created, which the
// post-service's outbox relays on its own schedule: for as long as that
// service or its broker connection may be away. Nacks back off from 0.5 s to
// a minute; the 20th delivery without the post goes to comment-created.dlq,
// about 13 minutes after the first.
constexpr uint32_t kNotYetDeliveries = 20;
std::vector<std::chrono::milliseconds> NotYetBackoff() {
  using std::chrono::milliseconds;
  return {milliseconds(500), milliseconds(1000), milliseconds(2000), milliseconds(4000),
          milliseconds(8000), milliseconds(15000), milliseconds(30000), milliseconds(60000)};
}

// The key part of a user's notifications: "note/" + hex(user) + "/".
std::string NotePrefix(const std::string& user) { return "note/" + Hex(user) + "/"; }

}  // namespace

int main(int argc, char** argv) {
  ServiceFlags flags{"127.0.0.1:7413", "notification-service-data"};
  CLI::App app{"notification-service: tells authors about comments on their posts"};
  AddServiceFlags(app, &flags);
  if (auto rc = ParseCommandLine(app, argc, argv)) return *rc;
  BlockStopSignals();  // before RocksDB and the Client start threads

  auto db = OpenDatabase(flags.data_dir);
  IdempotentConsumer applied(db.get(), db->DefaultColumnFamily());
  // Short request timeouts: start-up retries and a stop stay quick while the
  // broker is away; the outbox retries what timed out.
  Client client(BrokerClientOptions(flags, {.client_name = "notification-service", .request_timeout = std::chrono::seconds(5)}));

  auto on_post = [&](const Delivery& d) {
    auto e = DecodePostCreated(d.message().payload);
    if (!e) return d.ack();
    auto s = applied.ApplyOnce(d.message(), [&](rocksdb::WriteBatch& batch) {
      batch.Put("post/" + e->post_id, json{{"author", e->author}, {"title", e->title}}.dump());
    });
    s.ok() ? d.ack() : d.nack(std::chrono::seconds(1), s.ToString());
  };
  auto on_comment = [&](const Delivery& d) {
    auto e = DecodeCommentCreated(d.message().payload);
    if (!e) return d.ack();
    std::string value;
    if (!db->Get(rocksdb::ReadOptions(), "post/" + e->post_id, &value).ok()) {
      // The post-created event has not arrived yet (another topic, relayed by
      // another service's outbox): try again, later and later (kNotYetBackoff).
      return d.nack(std::chrono::milliseconds(0), "post not known yet");
    }
    json post = json::parse(value);
    auto s = applied.ApplyOnce(d.message(), [&](rocksdb::WriteBatch& batch) {
      char time[24];
      std::snprintf(time, sizeof time, "%020lld", static_cast<long long>(e->time_ms));
      json note = {{"user", post["author"]}, {"post_id", e->post_id}, {"comment_id", e->comment_id},
                   {"text", e->author + " commented on your post " + post["title"].get<std::string>()},
                   {"created_at", Rfc3339(e->time_ms)}};
      batch.Put(NotePrefix(post["author"].get<std::string>()) + time + "/" + e->event_id, note.dump());
    });
    s.ok() ? d.ack() : d.nack(std::chrono::seconds(1), s.ToString());
  };
  Subscriptions subscriptions(client);
  std::atomic<bool> stop{false};
  std::thread setup = RetryInBackground("notification-service: broker setup", [&] {
    if (!EnsureTopics(client, {kCommentCreated, kPostCreated}, "notification-service")) return false;
    if (subscriptions.Add({.topic = kPostCreated, .group = "notification-service"}, on_post)) return false;
    return !subscriptions.Add({.topic = kCommentCreated, .group = "notification-service",
                               .max_deliveries = kNotYetDeliveries, .backoff = NotYetBackoff()},
                              on_comment);
  }, &stop);

  HttpServer server(flags.http);
  AddHealthz(server, "notification-service");
  server.Get("/notifications", [&](const httplib::Request& req, httplib::Response& res) {
    std::string user = req.get_param_value("user");
    if (user.empty() || user.size() > 100)
      return ReplyError(res, 400, "bad_user", "user query parameter of 1..100 bytes required");
    json out = json::array();
    const std::string prefix = NotePrefix(user);
    // Keys hold the time, so walking them backwards lists the newest first.
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
    for (it->SeekForPrev(prefix + "\xff"); it->Valid() && it->key().starts_with(prefix); it->Prev())
      out.push_back(json::parse(it->value().ToString()));
    ReplyJson(res, 200, out);
  });

  int rc = Serve(server, flags.listen, "notification-service", flags.port_file);
  stop = true;
  setup.join();
  subscriptions.Leave();  // before the objects its handlers use go
  return rc;
}
