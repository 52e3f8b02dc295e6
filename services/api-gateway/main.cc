// api-gateway: the blog's single entry point. It serves the page (/ and
// /posts/ID, one page whose script shows either), forwards the API to the
// services (a service that is down is a 502 JSON error, never a hang), and
// pushes live events to browsers: it follows post-updated and
// comment-created through Herald (broker_feed.h) and streams them at
// GET /api/events (event_stream.h), with the services' health (health_watch.h).

#include <spdlog/spdlog.h>

#include "broker_feed.h"
#include "event_hub.h"
#include "event_stream.h"
#include "forward.h"
#include "health_watch.h"
#include "rate_limiter.h"
#include "service.h"
#include "web_assets.h"

using namespace herald;
using namespace herald::services;

namespace {

void ServeAsset(const std::string& name, const char* content_type, httplib::Response& res) {
  auto asset = WebAsset(name);
  if (!asset) return ReplyError(res, 404, "not_found", "no such file");
  res.set_header("Cache-Control", "no-cache");
  res.set_content(std::string(*asset), content_type);
}

// "?limit=..&before=.." of GET /api/posts, passed on as given (the
// post-service checks them).
std::string PageQuery(const httplib::Request& req) {
  std::string query;
  for (const char* name : {"limit", "before"}) {
    if (!req.has_param(name)) continue;
    query += (query.empty() ? "?" : "&") + std::string(name) + "=" +
             httplib::detail::encode_query_param(req.get_param_value(name));
  }
  return query;
}

}  // namespace

int main(int argc, char** argv) {
  ServiceFlags flags{"127.0.0.1:8080", ""};
  Upstream comments{"comment-service", "127.0.0.1:7411"}, posts{"post-service", "127.0.0.1:7412"},
      notifications{"notification-service", "127.0.0.1:7413"};
  std::size_t max_event_streams = 64;
  int64_t heartbeat_ms = 15000, health_interval_ms = 1000;
  double posts_per_minute = 10, post_burst = 5;
  CLI::App app{"api-gateway: the blog's single entry point"};
  app.add_option("--listen", flags.listen, "HOST:PORT for HTTP")->capture_default_str();
  app.add_option("--port-file", flags.port_file, "write the bound HTTP port to this file");
  app.add_option("--comment-service", comments.address, "HOST:PORT")->capture_default_str();
  app.add_option("--post-service", posts.address, "HOST:PORT")->capture_default_str();
  app.add_option("--notification-service", notifications.address, "HOST:PORT")->capture_default_str();
  app.add_option("--max-event-streams", max_event_streams, "GET /api/events streams open at once; more get 503")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{10'000}));
  app.add_option("--events-heartbeat-ms", heartbeat_ms, "a quiet event stream gets a heartbeat this often")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{100}, int64_t{600'000}));
  app.add_option("--health-interval-ms", health_interval_ms, "how often the services' /healthz is asked")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{100}, int64_t{600'000}));
  app.add_option("--posts-per-minute", posts_per_minute, "new posts a client may create a minute, on average")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 100'000.0));
  app.add_option("--post-burst", post_burst, "new posts a client may create at once")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 100'000.0));
  AddBrokerFlags(app, &flags);
  AddHttpFlags(app, &flags.http);
  if (auto rc = ParseCommandLine(app, argc, argv)) return *rc;
  BlockStopSignals();  // before the Client and the watch start threads

  // Every event stream holds an HTTP thread: leave threads for the API.
  if (max_event_streams + 16 > flags.http.max_threads) {
    std::fprintf(stderr, "api-gateway: --max-event-streams must be at least 16 below --http-max-threads\n");
    return 2;
  }
  EventHub hub(max_event_streams);
  HealthWatch health({{posts.name, posts.address}, {comments.name, comments.address},
                      {notifications.name, notifications.address}},
                     std::chrono::milliseconds(health_interval_ms), &hub);
  Client client(BrokerClientOptions(flags, {.client_name = "api-gateway", .request_timeout = std::chrono::seconds(5)}));
  BrokerFeed feed(&client, &hub);
  std::atomic<bool> stop{false};
  std::thread setup = RetryInBackground("api-gateway: broker setup", [&] { return feed.Start(); }, &stop);
  RateLimiter post_limiter(posts_per_minute, post_burst);

  const std::string id = "([A-Za-z0-9_-]{1,64})";
  HttpServer server(flags.http);
  AddHealthz(server, "api-gateway");
  // One page for the list and for a post: its script reads the path. Script
  // and style are files of their own, so that the Content-Security-Policy
  // allows no inline script.
  auto page = [](const httplib::Request&, httplib::Response& res) {
    ServeAsset("index.html", "text/html; charset=utf-8", res);
  };
  server.Get("/", page);
  server.Get("/posts/" + id, page);
  server.Get("/main.js", [](const httplib::Request&, httplib::Response& res) {
    ServeAsset("main.js", "text/javascript; charset=utf-8", res);
  });
  server.Get("/main.css", [](const httplib::Request&, httplib::Response& res) {
    ServeAsset("main.css", "text/css; charset=utf-8", res);
  });
  AddEventStream(server, hub, health, client, {.heartbeat = std::chrono::milliseconds(heartbeat_ms)});
  server.Get("/api/status", [&](const httplib::Request&, httplib::Response& res) {
    ReplyJson(res, 200, health.Status());
  });

  server.Post("/api/posts", [&](const httplib::Request& req, httplib::Response& res) {
    std::chrono::seconds retry_after{};
    if (!post_limiter.Allow(req.remote_addr, RateLimiter::Clock::now(), &retry_after)) {
      res.set_header("Retry-After", std::to_string(retry_after.count()));
      return ReplyError(res, 429, "too_many_posts",
                        "too many new posts from you; try again in " + std::to_string(retry_after.count()) + " s");
    }
    if (ParseObject(req, res)) Forward(posts, health, req, res, "/posts");
    if (res.status != 201) post_limiter.Refund(req.remote_addr);
  });
  server.Get("/api/posts", [&](const httplib::Request& req, httplib::Response& res) {
    Forward(posts, health, req, res, "/posts" + PageQuery(req));
  });
  server.Get("/api/posts/" + id, [&](const httplib::Request& req, httplib::Response& res) {
    Forward(posts, health, req, res, "/posts/" + std::string(req.matches[1]));
  });
  server.Post("/api/posts/" + id + "/comments", [&](const httplib::Request& req, httplib::Response& res) {
    if (ParseObject(req, res))
      Forward(comments, health, req, res, "/posts/" + std::string(req.matches[1]) + "/comments");
  });
  server.Get("/api/posts/" + id + "/comments", [&](const httplib::Request& req, httplib::Response& res) {
    Forward(comments, health, req, res, "/posts/" + std::string(req.matches[1]) + "/comments");
  });
  server.Delete("/api/comments/" + id, [&](const httplib::Request& req, httplib::Response& res) {
    Forward(comments, health, req, res, "/comments/" + std::string(req.matches[1]));
  });
  server.Get("/api/notifications", [&](const httplib::Request& req, httplib::Response& res) {
    std::string user = req.get_param_value("user");
    if (user.empty() || user.size() > 100)
      return ReplyError(res, 400, "bad_user", "the user query parameter (1..100 bytes) is required");
    Forward(notifications, health, req, res, "/notifications?user=" + httplib::detail::encode_query_param(user));
  });

  int rc = Serve(server, flags.listen, "api-gateway", flags.port_file);
  stop = true;
  setup.join();
  feed.Stop();
  return rc;
}
