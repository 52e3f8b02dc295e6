#include "http_server.h"

#include <algorithm>
#include <optional>

#include <sys/socket.h>
#include <unistd.h>

#include "connection_stream.h"
#include "elastic_thread_pool.h"
#include "json_reply.h"
#include "request_framing.h"

namespace herald::services {

namespace {

// The request being served on this thread. httplib calls the pre-routing,
// expect-100 and error handlers with the request and reply only; they find
// its connection here (process_and_close_socket sets it for the
// connection's lifetime, on the thread that serves it).
struct CurrentRequest {
  ConnectionStream* stream;
  std::optional<FramingError> refusal;
};
thread_local CurrentRequest* current = nullptr;

void ReplyRefusal(httplib::Response& res, const FramingError& refusal) {
  ReplyError(res, refusal.status, refusal.code, refusal.message);
  res.set_header("Connection", "close");  // its body, if any, is never read
}

}  // namespace

HttpServer::HttpServer(HttpLimits limits) : limits_(limits) {
  new_task_queue = [this] { return new ElasticThreadPool(limits_.max_threads); };
  // The stream already stops at Content-Length, which CheckFraming bounds;
  // httplib's own check stays as a second line.
  set_payload_max_length(limits_.max_body_bytes);
  // Only for the Keep-Alive header httplib writes: the stream does the waiting.
  set_keep_alive_timeout(std::max<time_t>(1, (limits_.idle_timeout.count() + 999) / 1000));
  set_default_headers({
      {"X-Content-Type-Options", "nosniff"},
      {"X-Frame-Options", "DENY"},
      {"Referrer-Policy", "no-referrer"},
      {"Content-Security-Policy", kContentSecurityPolicy},
  });
  // Runs after the headers, before any byte of the body is read.
  set_pre_routing_handler([](const httplib::Request&, httplib::Response& res) {
    if (!current || !current->refusal) return HandlerResponse::Unhandled;
    ReplyRefusal(res, *current->refusal);
    return HandlerResponse::Handled;
  });
  // A client that waits for "100 Continue" gets the refusal instead.
  set_expect_100_continue_handler([](const httplib::Request&, httplib::Response& res) {
    if (!current || !current->refusal) return 100;
    ReplyRefusal(res, *current->refusal);
    return res.status;
  });
  set_error_handler([this](const httplib::Request&, httplib::Response& res) { ReplyErrorForStatus(res); });
  set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    ReplyError(res, 500, "internal", "unexpected error");
  });
}

bool HttpServer::CurrentPeerClosed() { return current != nullptr && current->stream->PeerClosed(); }

int HttpServer::Bind(const std::string& host, uint16_t port) {
  int bound = port == 0 ? bind_to_any_port(host) : (bind_to_port(host, port) ? port : -1);
  // listen() again on a listening socket only changes its backlog.
  if (bound >= 0) ::listen(svr_sock_, kListenBacklog);
  return bound;
}

void HttpServer::ReplyErrorForStatus(httplib::Response& res) const {
  if (current && !current->stream->AtRequestEnd()) res.set_header("Connection", "close");
  if (!res.body.empty()) return;  // a handler already wrote its own error
  if (current) {
    switch (current->stream->failure()) {
      case ConnectionStream::Failure::kTimedOut:
        return ReplyError(res, 408, "request_timeout", "the request did not arrive in time");
      case ConnectionStream::Failure::kHeadersTooLarge:
        return ReplyError(res, 431, "headers_too_large",
                          "request line and headers above " + std::to_string(limits_.max_header_bytes >> 10) + " KiB");
      case ConnectionStream::Failure::kServerStopping:
        return ReplyError(res, 503, "stopping", "the service is stopping");
      case ConnectionStream::Failure::kNone:
        break;
    }
  }
  if (res.status == 404) return ReplyError(res, 404, "not_found", "no such route");
  if (res.status == 413)
    return ReplyError(res, 413, "body_too_large",
                      "request body above " + std::to_string(limits_.max_body_bytes >> 10) + " KiB");
  ReplyError(res, res.status, "http_error", "request failed");
}

bool HttpServer::process_and_close_socket(socket_t sock) {
  ConnectionStream stream(sock, limits_, [this] { return svr_sock_ == INVALID_SOCKET; });
  CurrentRequest request{&stream, std::nullopt};
  current = &request;
  bool ok = false, unread_input = false;
  for (std::size_t left = keep_alive_max_count_; left > 0 && svr_sock_ != INVALID_SOCKET; --left) {
    if (!stream.WaitForRequest()) break;
    request.refusal.reset();
    stream.BeginHeaders();
    bool client_closes = false;
    ok = process_request(stream, /*close_connection=*/left == 1, client_closes, [&](httplib::Request& req) {
      Framing framing = CheckFraming(req.headers, limits_.max_body_bytes);
      request.refusal = framing.error;
      stream.BeginBody(framing.body_bytes);  // 0 when refused: httplib reads no body
    });
    // A request not read to its end leaves bytes that must never be taken
    // for the next request (that is how smuggling works): close instead.
    unread_input = request.refusal.has_value() || !stream.AtRequestEnd();
    if (!ok || client_closes || unread_input) break;
  }
  current = nullptr;
  if (unread_input) stream.LingeringClose();
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  return ok;
}

}  // namespace herald::services
