// api-gateway: the blog's single entry point. It serves the main page and
// forwards the API to the services; a service that is down is a 502/503 JSON
// error, never a hang.

#include <spdlog/spdlog.h>

#include "main_page.h"
#include "service.h"

using namespace herald::services;

namespace {

// Forwards to `upstream` and relays its status and body.
void Forward(const std::string& upstream, const httplib::Request& req, httplib::Response& res,
             const std::string& path) {
  httplib::Client c(upstream.c_str());
  c.set_connection_timeout(2);
  c.set_read_timeout(10);
  httplib::Result r = req.method == "GET"    ? c.Get(path.c_str())
                      : req.method == "POST" ? c.Post(path.c_str(), req.body, "application/json")
                                             : c.Delete(path.c_str());
  if (!r) return ReplyError(res, 502, "upstream_unavailable", "cannot reach " + upstream);
  res.status = r->status;
  if (!r->body.empty()) res.set_content(r->body, "application/json");
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen = "127.0.0.1:8080", port_file;
  std::string comments = "127.0.0.1:7411", posts = "127.0.0.1:7412", notifications = "127.0.0.1:7413";
  CLI::App app{"api-gateway: the blog's single entry point"};
  app.add_option("--listen", listen, "HOST:PORT for HTTP")->capture_default_str();
  app.add_option("--comment-service", comments, "HOST:PORT")->capture_default_str();
  app.add_option("--post-service", posts, "HOST:PORT")->capture_default_str();
  app.add_option("--notification-service", notifications, "HOST:PORT")->capture_default_str();
  app.add_option("--port-file", port_file, "write the bound HTTP port to this file");
  HttpLimits http;
  AddHttpFlags(app, &http);
  if (auto rc = ParseCommandLine(app, argc, argv)) return *rc;

  const std::string id = "([A-Za-z0-9_-]{1,64})";
  HttpServer server(http);
  AddHealthz(server, "api-gateway");
  // The page's script and style are files of their own, not inline, so that
  // the Content-Security-Policy can allow only what the gateway serves.
  server.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(MainPageHtml(), "text/html; charset=utf-8");
  });
  server.Get("/main.js", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(MainPageScript(), "text/javascript; charset=utf-8");
  });
  server.Get("/main.css", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(MainPageStyle(), "text/css; charset=utf-8");
  });
  server.Post("/api/posts", [&](const httplib::Request& req, httplib::Response& res) {
    if (ParseObject(req, res)) Forward(posts, req, res, "/posts");
  });
  server.Get("/api/posts", [&](const httplib::Request& req, httplib::Response& res) {
    Forward(posts, req, res, "/posts");
  });
  server.Get("/api/posts/" + id, [&](const httplib::Request& req, httplib::Response& res) {
    Forward(posts, req, res, "/posts/" + std::string(req.matches[1]));
  });
  server.Post("/api/posts/" + id + "/comments", [&](const httplib::Request& req, httplib::Response& res) {
    if (ParseObject(req, res)) Forward(comments, req, res, "/posts/" + std::string(req.matches[1]) + "/comments");
  });
  server.Get("/api/posts/" + id + "/comments", [&](const httplib::Request& req, httplib::Response& res) {
    Forward(comments, req, res, "/posts/" + std::string(req.matches[1]) + "/comments");
  });
  server.Delete("/api/comments/" + id, [&](const httplib::Request& req, httplib::Response& res) {
    Forward(comments, req, res, "/comments/" + std::string(req.matches[1]));
  });
  server.Get("/api/notifications", [&](const httplib::Request& req, httplib::Response& res) {
    std::string user = req.get_param_value("user");
    if (user.empty() || user.size() > 100)
      return ReplyError(res, 400, "bad_user", "the user query parameter is required");
    Forward(notifications, req, res, "/notifications?user=" + httplib::detail::encode_query_param(user));
  });
  return Serve(server, listen, "api-gateway", port_file);
}
