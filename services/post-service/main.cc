// post-service: the blog's posts and their comment counts. It consumes
// comment-created and comment-deleted (group "post-service") and applies each
// event exactly once, publishing post-updated (the post's new count) for
// each; it publishes post-created and post-updated through its outbox.

#include <spdlog/spdlog.h>

#include "broker_setup.h"
#include "events.h"
#include "post_store.h"
#include "service.h"

using namespace herald;
using namespace herald::services;

namespace {

constexpr std::size_t kDefaultPageSize = 20, kMaxPageSize = 100;

// 1..kMaxPageSize in decimal digits, or nullopt.
std::optional<std::size_t> ParsePageSize(const std::string& text) {
  if (text.empty() || text.size() > 3) return std::nullopt;
  std::size_t n = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<std::size_t>(c - '0');
  }
  if (n < 1 || n > kMaxPageSize) return std::nullopt;
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  ServiceFlags flags{"127.0.0.1:7412", "post-service-data"};
  CLI::App app{"post-service: posts and their comment counts"};
  AddServiceFlags(app, &flags);
  if (auto rc = ParseCommandLine(app, argc, argv)) return *rc;
  BlockStopSignals();  // before RocksDB and the Client start threads

  auto db = OpenDatabase(flags.data_dir);
  // Short request timeouts: start-up retries and a stop stay quick while the
  // broker is away; the outbox retries what timed out.
  Client client(BrokerClientOptions(flags, {.client_name = "post-service", .request_timeout = std::chrono::seconds(5)}));
  Outbox outbox(db.get(), db->DefaultColumnFamily(), &client);
  PostStore store(db.get(), &outbox);
  if (rocksdb::Status s = store.IndexOldPosts(); !s.ok()) {
    std::fprintf(stderr, "post-service: cannot index the posts: %s\n", s.ToString().c_str());
    return 1;
  }

  auto on_comment = [&](bool created) {
    return [&, created](const Delivery& d) {
      auto e = created ? DecodeCommentCreated(d.message().payload) : DecodeCommentDeleted(d.message().payload);
      if (!e) {
        spdlog::error("post-service: undecodable event at {}/{}", d.message().topic, d.message().offset);
        d.ack();
        return;
      }
      rocksdb::Status s = created ? store.ApplyCommentCreated(d.message(), *e)
                                  : store.ApplyCommentDeleted(d.message(), *e);
      if (s.ok()) {
        d.ack();
      } else {
        d.nack(std::chrono::seconds(1), s.ToString());
      }
    };
  };
  Subscriptions subscriptions(client);
  std::atomic<bool> stop{false};
  std::thread setup = RetryInBackground("post-service: broker setup", [&] {
    if (!EnsureTopics(client, {kCommentCreated, kCommentDeleted, kPostCreated, kPostUpdated}, "post-service")) return false;
    if (subscriptions.Add({.topic = kCommentCreated, .group = "post-service"}, on_comment(true))) return false;
    return !subscriptions.Add({.topic = kCommentDeleted, .group = "post-service"}, on_comment(false));
  }, &stop);

  HttpServer server(flags.http);
  AddHealthz(server, "post-service");
  server.Post("/posts", [&](const httplib::Request& req, httplib::Response& res) {
    auto body = ParseObject(req, res);
    if (!body) return;
    auto author = RequireString(*body, "author", 100, res);
    if (!author) return;
    auto title = RequireString(*body, "title", 300, res);
    if (!title) return;
    // 60,000 bytes of text fit, escaped as JSON, in the 64 KiB a request may have.
    auto content = RequireString(*body, "content", 60'000, res);
    if (!content) return;
    json post;
    if (!store.Create(*author, *title, *content, &post).ok()) return ReplyError(res, 500, "storage", "could not store");
    ReplyJson(res, 201, post);
  });
  // ?limit=1..100 (default 20) &before=POST_ID: one page, newest first.
  server.Get("/posts", [&](const httplib::Request& req, httplib::Response& res) {
    std::size_t limit = kDefaultPageSize;
    if (req.has_param("limit")) {
      auto parsed = ParsePageSize(req.get_param_value("limit"));
      if (!parsed) return ReplyError(res, 400, "bad_limit", "limit must be 1.." + std::to_string(kMaxPageSize));
      limit = *parsed;
    }
    std::string before = req.get_param_value("before");
    if (!before.empty() && !IsValidId(before)) return ReplyError(res, 400, "bad_before", "before must be a post id");
    auto cards = store.Cards(limit, before);
    if (!cards) return ReplyError(res, 400, "bad_before", "no post " + before);
    ReplyJson(res, 200, *cards);
  });
  server.Get(R"(/posts/([^/]+))", [&](const httplib::Request& req, httplib::Response& res) {
    std::string id = req.matches[1];
    if (!IsValidId(id)) return ReplyError(res, 404, "post_not_found", "no post " + id);
    auto post = store.Get(id);
    if (!post) return ReplyError(res, 404, "post_not_found", "no post " + id);
    ReplyJson(res, 200, *post);
  });

  int rc = Serve(server, flags.listen, "post-service", flags.port_file);
  stop = true;
  setup.join();
  subscriptions.Leave();  // before the objects its handlers use go
  return rc;
}
