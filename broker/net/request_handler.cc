#include "broker/net/request_handler.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "broker/metrics/broker_metrics.h"
#include "broker/net/listener.h"
#include "broker/net/session.h"
#include "broker/version.h"

namespace herald::broker {

namespace {

void HandleHello(Session& session, BrokerContext& ctx, uint64_t request_id,
                 const wire::Hello& hello) {
  if (hello.protocol_version() != wire::kProtocolVersion) {
    session.FailAndClose(request_id,
                         {wire::ErrorCode::UnsupportedVersion,
                          fmt::format("protocol version {} is not supported (this broker speaks {})",
                                      hello.protocol_version(), wire::kProtocolVersion)});
    return;
  }
  // Names are for logs only; keep them short and printable.
  std::string name = hello.client_name() ? hello.client_name()->str().substr(0, 64) : "";
  std::erase_if(name, [](char c) { return c < 0x20 || c > 0x7e; });
  std::shared_ptr<const Principal> principal;
  if (ctx.principals != nullptr) {
    std::string_view token = hello.token() ? hello.token()->string_view() : std::string_view{};
    if (const Principal* p = token.empty() ? nullptr : ctx.principals->Authenticate(token)) {
      principal = std::shared_ptr<const Principal>(ctx.principals, p);
    }
    if (principal == nullptr) {
      if (ctx.metrics != nullptr) ++ctx.metrics->authentication_failures;
      // The same answer for a missing and a wrong token: nothing to learn from it.
      spdlog::get("net")->warn("session {}: authentication failed for '{}' ({})", session.id(), name,
                               token.empty() ? "no token" : "unknown token");
      session.FailAndClose(request_id, {wire::ErrorCode::AuthenticationFailed,
                                        "authentication failed: this broker needs a valid token"});
      return;
    }
  }
  // Checked here as well as at accept: connections accepted below the limit
  // may finish their Hello after it was reached.
  if (ctx.connections != nullptr && ctx.connections->AuthenticatedSessions() >= ctx.config.max_connections) {
    session.FailAndClose(request_id, {wire::ErrorCode::TooManyConnections,
                                      fmt::format("the broker is at its limit of {} connections",
                                                  ctx.config.max_connections)});
    return;
  }
  session.set_handshaken(std::move(name), principal);
  spdlog::get("net")->info("session {}: hello from {}", session.id(), session.who());
  flatbuffers::FlatBufferBuilder fbb(128);
  auto version = fbb.CreateString(kBrokerVersion);
  auto principal_name = fbb.CreateString(principal ? principal->name : "");
  session.Send(wire::FinishFrame(
      fbb, request_id,
      wire::CreateHelloOk(fbb, wire::kProtocolVersion, version, ctx.config.max_frame_bytes,
                          ctx.config.max_payload_bytes, principal_name,
                          ctx.config.max_publish_bytes, ctx.config.max_publish_messages)));
}

// Calls handle(session, ctx, request_id, *body) if the union holds a value of
// the expected type, else closes the connection as malformed.
template <class Body, class Fn>
void WithBody(Session& session, BrokerContext& ctx, const wire::Frame& frame, Fn handle) {
  const Body* body = frame.body_as<Body>();
  if (body == nullptr) {
    session.FailAndClose(frame.request_id(),
                         {wire::ErrorCode::MalformedFrame, "the request body is missing"});
    return;
  }
  handle(session, ctx, frame.request_id(), *body);
}

}  // namespace

void HandleFrame(Session& session, BrokerContext& ctx, const wire::Frame& frame) {
  using wire::Body;
  const Body type = frame.body_type();
  if (ctx.metrics != nullptr && type <= Body::MAX) ++ctx.metrics->requests[static_cast<std::size_t>(type)];
  // Errors sent while this request is handled count as its failures.
  struct Dispatching {
    Session& session;
    ~Dispatching() { session.set_dispatching(Body::NONE); }
  } dispatching{session};
  session.set_dispatching(type);
  if (type == Body::NONE) {
    session.FailAndClose(frame.request_id(), {wire::ErrorCode::MalformedFrame, "frame has no body"});
    return;
  }
  if (type == Body::Hello) {
    WithBody<wire::Hello>(session, ctx, frame, HandleHello);
    return;
  }
  if (!session.handshaken()) {
    session.FailAndClose(frame.request_id(),
                         {wire::ErrorCode::HandshakeRequired, "the first frame must be Hello"});
    return;
  }
  switch (type) {
    case Body::Publish:
      return WithBody<wire::Publish>(session, ctx, frame, HandlePublish);
    case Body::CreateTopic:
      return WithBody<wire::CreateTopic>(session, ctx, frame, HandleCreateTopic);
    case Body::DeleteTopic:
      return WithBody<wire::DeleteTopic>(session, ctx, frame, HandleDeleteTopic);
    case Body::ListTopics:
      return WithBody<wire::ListTopics>(session, ctx, frame, HandleListTopics);
    case Body::DescribeTopic:
      return WithBody<wire::DescribeTopic>(session, ctx, frame, HandleDescribeTopic);
    case Body::Subscribe:
      return WithBody<wire::Subscribe>(session, ctx, frame, HandleSubscribe);
    case Body::Unsubscribe:
      return WithBody<wire::Unsubscribe>(session, ctx, frame, HandleUnsubscribe);
    case Body::Ack:
      return WithBody<wire::Ack>(session, ctx, frame, HandleAck);
    case Body::Nack:
      return WithBody<wire::Nack>(session, ctx, frame, HandleNack);
    case Body::ExtendDeadline:
      return WithBody<wire::ExtendDeadline>(session, ctx, frame, HandleExtendDeadline);
    case Body::AlterTopic:
      return WithBody<wire::AlterTopic>(session, ctx, frame, HandleAlterTopic);
    case Body::PurgeTopic:
      return WithBody<wire::PurgeTopic>(session, ctx, frame, HandlePurgeTopic);
    case Body::DescribeGroup:
      return WithBody<wire::DescribeGroup>(session, ctx, frame, HandleDescribeGroup);
    case Body::ResetGroup:
      return WithBody<wire::ResetGroup>(session, ctx, frame, HandleResetGroup);
    case Body::DeleteGroup:
      return WithBody<wire::DeleteGroup>(session, ctx, frame, HandleDeleteGroup);
    case Body::GetStatus:
      return HandleGetStatus(session, ctx, frame.request_id());
    case Body::Fetch:
      return WithBody<wire::Fetch>(session, ctx, frame, HandleFetch);
    default:
      session.FailAndClose(
          frame.request_id(),
          {wire::ErrorCode::UnexpectedMessage,
           fmt::format("{} is not a request a client may send", wire::EnumNameBody(type))});
  }
}

}  // namespace herald::broker
