// comment-service: adds and removes comments, publishing comment-created and
// comment-deleted through its outbox. It learns which posts exist from
// post-created, and asks the post-service about a post it has not heard of.
// Creating a comment returns its delete token; DELETE /comments/ID needs it
// in the X-Delete-Token header (403 without it).

#include <spdlog/spdlog.h>

#include "broker_setup.h"
#include "comment_store.h"
#include "events.h"
#include "service.h"

using namespace herald;
using namespace herald::services;

int main(int argc, char** argv) {
  ServiceFlags flags{"127.0.0.1:7411", "comment-service-data"};
  std::string post_service = "127.0.0.1:7412";
  CLI::App app{"comment-service: comments of the blog, and their events"};
  AddServiceFlags(app, &flags);
  app.add_option("--post-service", post_service, "HOST:PORT of the post-service (fallback lookups)")
      ->capture_default_str();
  if (auto rc = ParseCommandLine(app, argc, argv)) return *rc;
  BlockStopSignals();  // before RocksDB and the Client start threads

  auto db = OpenDatabase(flags.data_dir);
  // Short request timeouts: start-up retries and a stop stay quick while the
  // broker is away; the outbox retries what timed out.
  Client client(BrokerClientOptions(flags, {.client_name = "comment-service", .request_timeout = std::chrono::seconds(5)}));
  Outbox outbox(db.get(), db->DefaultColumnFamily(), &client);
  CommentStore store(db.get(), &outbox);

  Subscriptions subscriptions(client);
  std::atomic<bool> stop{false};
  std::thread setup = RetryInBackground("comment-service: broker setup", [&] {
    if (!EnsureTopics(client, {kCommentCreated, kCommentDeleted, kPostCreated}, "comment-service")) return false;
    return !subscriptions.Add({.topic = kPostCreated, .group = "comment-service"}, [&](const Delivery& d) {
      auto e = DecodePostCreated(d.message().payload);
      if (!e) {
        spdlog::error("comment-service: undecodable post-created at offset {}", d.message().offset);
        d.ack();  // it can never be applied; keeping it would block nothing but waste retries
        return;
      }
      if (store.RememberPost(e->post_id).ok()) d.ack();
    });
  }, &stop);

  HttpServer server(flags.http);
  AddHealthz(server, "comment-service");
  server.Post(R"(/posts/([^/]+)/comments)", [&](const httplib::Request& req, httplib::Response& res) {
    std::string post_id = req.matches[1];
    if (!IsValidId(post_id)) return ReplyError(res, 404, "post_not_found", "no post " + post_id);
    auto body = ParseObject(req, res);
    if (!body) return;
    auto author = RequireString(*body, "author", 100, res);
    if (!author) return;
    auto content = RequireString(*body, "content", 10'000, res);
    if (!content) return;
    if (!store.KnowsPost(post_id)) {
      // Not heard of (yet): ask the post-service; if it is down, we cannot tell.
      httplib::Client posts(post_service.c_str());
      posts.set_connection_timeout(1);
      posts.set_read_timeout(3);
      auto r = posts.Get(("/posts/" + post_id).c_str());
      if (!r) return ReplyError(res, 503, "post_service_unavailable", "cannot check that the post exists");
      if (r->status == 404) return ReplyError(res, 404, "post_not_found", "no post " + post_id);
      if (r->status != 200) return ReplyError(res, 502, "post_service_error", "post lookup failed");
      store.RememberPost(post_id);
    }
    json comment;
    std::string delete_token;
    if (!store.Add(post_id, *author, *content, &comment, &delete_token).ok())
      return ReplyError(res, 500, "storage", "could not store the comment");
    comment["delete_token"] = delete_token;
    ReplyJson(res, 201, comment);
  });
  server.Get(R"(/posts/([^/]+)/comments)", [&](const httplib::Request& req, httplib::Response& res) {
    std::string post_id = req.matches[1];
    if (!IsValidId(post_id)) return ReplyError(res, 404, "post_not_found", "no post " + post_id);
    ReplyJson(res, 200, store.ForPost(post_id));
  });
  server.Delete(R"(/comments/([^/]+))", [&](const httplib::Request& req, httplib::Response& res) {
    std::string id = req.matches[1];
    if (!IsValidId(id)) return ReplyError(res, 404, "comment_not_found", "no comment " + id);
    switch (store.Remove(id, req.get_header_value(kDeleteTokenHeader))) {
      case CommentStore::Removal::kRemoved:
        res.status = 204;
        return;
      case CommentStore::Removal::kNotFound:
        return ReplyError(res, 404, "comment_not_found", "no comment " + id);
      case CommentStore::Removal::kWrongToken:
        return ReplyError(res, 403, "not_your_comment", "only the comment's writer may delete it");
      case CommentStore::Removal::kStorageError:
        return ReplyError(res, 500, "storage", "could not delete the comment");
    }
  });
  server.Get("/outbox", [&](const httplib::Request&, httplib::Response& res) {
    ReplyJson(res, 200, {{"pending", outbox.Pending()}});
  });

  int rc = Serve(server, flags.listen, "comment-service", flags.port_file);
  stop = true;
  setup.join();
  subscriptions.Leave();  // before the objects its handlers use go
  return rc;
}
