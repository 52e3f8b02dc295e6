// api-gateway: the blog's front door. It serves the main page (post cards
// with their comment counts) and forwards API requests to the services.

#include <spdlog/spdlog.h>

#include "service.h"

using namespace herald::services;

namespace {

// Forwards a request to `upstream` and relays its answer; 502/504 JSON if it cannot.
void Forward(const std::string& upstream, const httplib::Request& req, httplib::Response& res,
             const std::string& method, const std::string& path) {
  httplib::Client c(upstream.c_str());
  c.set_connection_timeout(2);
  c.set_read_timeout(10);
  httplib::Result r = method == "GET"    ? c.Get(path.c_str())
                      : method == "POST" ? c.Post(path.c_str(), req.body, "application/json")
                                         : c.Delete(path.c_str());
  if (!r) return ReplyError(res, 502, "upstream_unavailable", "cannot reach " + upstream);
  res.status = r->status;
  res.set_content(r->body, r->get_header_value("Content-Type").empty() ? "application/json"
                                                                        : r->get_header_value("Content-Type"));
}

std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string MainPage(const json& posts) {
  std::string cards;
  for (const auto& p : posts) {
    cards += "<article class=card><h2>" + Escape(p.value("title", "")) + "</h2><p class=author>by " +
             Escape(p.value("author", "")) + "</p><p class=count data-post='" + Escape(p.value("id", "")) + "'>" +
             std::to_string(p.value("comment_count", 0)) + " comments</p></article>\n";
  }
  if (cards.empty()) cards = "<p>No posts yet.</p>";
  return "<!doctype html><html><head><meta charset=utf-8><title>Herald blog</title><style>"
         "body{font-family:sans-serif;max-width:48em;margin:2em auto}"
         ".card{border:1px solid #ccc;border-radius:8px;padding:1em;margin:1em 0}"
         ".count{color:#555}</style></head><body><h1>Herald blog</h1>\n" +
         cards + "</body></html>";
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen = "127.0.0.1:7410";
  std::string comments = "127.0.0.1:7411", posts = "127.0.0.1:7412", notifications = "127.0.0.1:7413";
  std::string port_file;
  CLI::App app{"api-gateway: the blog's front door"};
  app.add_option("--listen", listen, "HOST:PORT for HTTP")->capture_default_str();
  app.add_option("--comment-service", comments, "HOST:PORT")->capture_default_str();
  app.add_option("--post-service", posts, "HOST:PORT")->capture_default_str();
  app.add_option("--notification-service", notifications, "HOST:PORT")->capture_default_str();
  app.add_option("--port-file", port_file, "write the bound HTTP port to this file");
  CLI11_PARSE(app, argc, argv);

  httplib::Server server;
  AddHealthz(server, "api-gateway");
  server.Get("/", [&](const httplib::Request&, httplib::Response& res) {
    httplib::Client c(posts.c_str());
    c.set_connection_timeout(2);
    auto r = c.Get("/posts");
    json list = r && r->status == 200 ? json::parse(r->body, nullptr, false) : json::array();
    if (!list.is_array()) list = json::array();
    res.set_content(MainPage(list), "text/html; charset=utf-8");
    if (!r) res.status = 503;
  });
  server.Get("/api/posts", [&](const httplib::Request& req, httplib::Response& res) {
    Forward(posts, req, res, "GET", "/posts");
  });
  server.Get(R"(/api/posts/([A-Za-z0-9_-]{1,64}))", [&](const httplib::Request& req, httplib::Response& res) {
    Forward(posts, req, res, "GET", "/posts/" + std::string(req.matches[1]));
  });
  server.Post("/api/posts", [&](const httplib::Request& req, httplib::Response& res) {
    if (ParseObject(req, res)) Forward(posts, req, res, "POST", "/posts");
  });
  server.Post("/api/comments", [&](const httplib::Request& req, httplib::Response& res) {
    if (ParseObject(req, res)) Forward(comments, req, res, "POST", "/comments");
  });
  server.Delete(R"(/api/comments/([A-Za-z0-9_-]{1,64}))", [&](const httplib::Request& req, httplib::Response& res) {
    Forward(comments, req, res, "DELETE", "/comments/" + std::string(req.matches[1]));
  });
  server.Get("/api/notifications", [&](const httplib::Request& req, httplib::Response& res) {
    std::string user = req.get_param_value("user");
    if (!IsValidId(user)) return ReplyError(res, 400, "bad_user", "user query parameter required");
    Forward(notifications, req, res, "GET", "/notifications?user=" + user);
  });
  return Serve(server, listen, "api-gateway", port_file);
}
