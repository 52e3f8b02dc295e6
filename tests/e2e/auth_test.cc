// Authentication and ACLs against a real brokerd started with --auth-file:
// tokens admit their principal and nothing else does; each request kind is
// checked against the principal's patterns; a denial is an error reply with
// its own code, is logged, and leaves the connection usable.

#include <catch2/catch.hpp>

#include "schemas/token.h"
#include "tests/support/command.h"
#include "tests/support/metric_sample.h"
#include "tests/support/principals_file.h"
#include "tests/support/raw_connection.h"
#include "tests/support/request_frames.h"
#include "tests/support/server_process.h"
#include "tests/support/test_certs.h"

using namespace std::chrono_literals;
using herald::test::BrokerProcess;
using herald::test::CreateTopicFrame;
using herald::test::ErrorOf;
using herald::test::MetricSample;
using herald::test::PrincipalEntry;
using herald::test::PublishFrame;
using herald::test::RawConnection;
using herald::test::SubscribeFrame;
namespace wire = herald::wire;

namespace {

struct Tokens {
  std::string comments = wire::NewToken();
  std::string posts = wire::NewToken();
  std::string ops = wire::NewToken();
};

// Writes the principals file of the comment-count flow into `dir`.
std::string WritePrincipals(const std::string& dir, const Tokens& t) {
  std::string path = dir + "/principals.toml";
  herald::test::WriteFile(path, PrincipalEntry("comment-service", t.comments, "publish = [\"comment-*\"]") +
                                    PrincipalEntry("post-service", t.posts,
                                                   "subscribe = [\"comment-*\"]\ngroups = [\"post-service\"]") +
                                    PrincipalEntry("ops", t.ops, "admin = [\"*\"]"));
  return path;
}

struct AuthBroker {
  herald::test::TempDir dir;
  Tokens tokens;
  BrokerProcess broker{{"--auth-file", WritePrincipals(dir.str(), tokens), "--metrics-listen", "127.0.0.1:0"}};
};

const wire::Frame* Call(RawConnection& raw, const wire::EncodedFrame& frame) {
  REQUIRE(raw.Send(frame));
  return raw.ReadFrame();
}

template <class Body>
wire::EncodedFrame Empty(uint64_t id) {
  flatbuffers::FlatBufferBuilder fbb;
  typename Body::Builder b(fbb);
  return wire::FinishFrame(fbb, id, b.Finish());
}

wire::EncodedFrame DeleteGroup(uint64_t id, const std::string& topic, const std::string& group) {
  flatbuffers::FlatBufferBuilder fbb;
  auto t = fbb.CreateString(topic);
  auto g = fbb.CreateString(group);
  return wire::FinishFrame(fbb, id, wire::CreateDeleteGroup(fbb, t, g));
}

}  // namespace

TEST_CASE("auth: Hello without a valid token is refused and nothing else is served", "[e2e][security]") {
  AuthBroker b;
  SECTION("no token") {
    RawConnection raw(b.broker.port());
    REQUIRE(raw.SendHello());
    CHECK(ErrorOf(raw.ReadFrame()) == wire::ErrorCode::AuthenticationFailed);
    CHECK(raw.ClosedByPeer());
    CHECK(herald::test::Eventually([&] {
      return b.broker.LogTail().find("authentication failed for 'raw-test' (no token)") != std::string::npos;
    }));
    CHECK(MetricSample(b.broker, "herald_authentication_failures_total") == 1);
  }
  SECTION("an unknown token") {
    RawConnection raw(b.broker.port());
    REQUIRE(raw.SendHello(wire::NewToken()));
    CHECK(ErrorOf(raw.ReadFrame()) == wire::ErrorCode::AuthenticationFailed);
    CHECK(raw.ClosedByPeer());
  }
  SECTION("the hash from the file instead of the token") {
    RawConnection raw(b.broker.port());
    REQUIRE(raw.SendHello(herald::test::TokenHash(b.tokens.ops)));
    CHECK(ErrorOf(raw.ReadFrame()) == wire::ErrorCode::AuthenticationFailed);
    CHECK(raw.ClosedByPeer());
  }
  SECTION("a request before Hello") {
    RawConnection raw(b.broker.port());
    CHECK(ErrorOf(Call(raw, CreateTopicFrame(3, "t"))) == wire::ErrorCode::HandshakeRequired);
    CHECK(raw.ClosedByPeer());
  }
  SECTION("a valid token names its principal") {
    RawConnection raw(b.broker.port());
    REQUIRE(raw.SendHello(b.tokens.posts));
    const wire::Frame* reply = raw.ReadFrame();
    REQUIRE(reply != nullptr);
    REQUIRE(reply->body_as_HelloOk() != nullptr);
    REQUIRE(reply->body_as_HelloOk()->principal() != nullptr);
    CHECK(reply->body_as_HelloOk()->principal()->str() == "post-service");
  }
}

TEST_CASE("auth: each principal may do what its ACL allows and gets NotAuthorized for the rest", "[e2e][security]") {
  AuthBroker b;
  RawConnection ops(b.broker.port()), comments(b.broker.port()), posts(b.broker.port());
  REQUIRE(ops.Handshake(b.tokens.ops));
  REQUIRE(comments.Handshake(b.tokens.comments));
  REQUIRE(posts.Handshake(b.tokens.posts));

  // Admin: topics are made by ops only.
  const wire::Frame* r = Call(ops, CreateTopicFrame(1, "comment-created"));
  REQUIRE(r != nullptr);
  CHECK(r->body_as_CreateTopicOk() != nullptr);
  REQUIRE(Call(ops, CreateTopicFrame(2, "orders"))->body_as_CreateTopicOk() != nullptr);
  CHECK(ErrorOf(Call(comments, CreateTopicFrame(3, "comment-deleted"))) == wire::ErrorCode::NotAuthorized);
  CHECK(ErrorOf(Call(posts, CreateTopicFrame(4, "comment-deleted"))) == wire::ErrorCode::NotAuthorized);

  // Publish: comment-* for the comment-service; the connection stays open after a denial.
  CHECK(ErrorOf(Call(comments, PublishFrame(5, "orders", "x"))) == wire::ErrorCode::NotAuthorized);
  r = Call(comments, PublishFrame(6, "comment-created", "c1"));
  REQUIRE(r != nullptr);
  CHECK(r->body_as_PublishOk() != nullptr);
  CHECK(ErrorOf(Call(posts, PublishFrame(7, "comment-created", "forged"))) == wire::ErrorCode::NotAuthorized);
  CHECK(ErrorOf(Call(ops, PublishFrame(8, "comment-created", "ops may administer, not publish"))) ==
        wire::ErrorCode::NotAuthorized);
  // A denial says nothing about whether the topic exists.
  CHECK(ErrorOf(Call(comments, PublishFrame(9, "no-such-topic", "x"))) == wire::ErrorCode::NotAuthorized);

  // Subscribe: the topic needs subscribe, the group needs groups.
  CHECK(ErrorOf(Call(posts, SubscribeFrame(10, "comment-created", "someone-else"))) == wire::ErrorCode::NotAuthorized);
  CHECK(ErrorOf(Call(posts, SubscribeFrame(11, "orders", "post-service"))) == wire::ErrorCode::NotAuthorized);
  CHECK(ErrorOf(Call(comments, SubscribeFrame(12, "comment-created", "post-service"))) == wire::ErrorCode::NotAuthorized);
  r = Call(posts, SubscribeFrame(13, "comment-created", "post-service"));
  REQUIRE(r != nullptr);
  REQUIRE(r->body_as_SubscribeOk() != nullptr);
  r = posts.ReadFrame();
  REQUIRE(r != nullptr);
  REQUIRE(r->body_as_Deliver() != nullptr);
  CHECK(herald::test::DeliveredPayloads(*r->body_as_Deliver()).at(0) == "c1");

  // Listing shows the topics a principal has some permission on.
  r = Call(posts, Empty<wire::ListTopics>(14));
  REQUIRE(r != nullptr);
  REQUIRE(r->body_as_TopicList() != nullptr);
  REQUIRE(r->body_as_TopicList()->topics()->size() == 1);
  CHECK(r->body_as_TopicList()->topics()->Get(0)->name()->str() == "comment-created");
  r = Call(ops, Empty<wire::ListTopics>(15));
  REQUIRE(r != nullptr);
  CHECK(r->body_as_TopicList()->topics()->size() == 2);

  // Status is for admins of everything; group admin is admin too.
  CHECK(ErrorOf(Call(posts, Empty<wire::GetStatus>(16))) == wire::ErrorCode::NotAuthorized);
  r = Call(ops, Empty<wire::GetStatus>(17));
  REQUIRE(r != nullptr);
  CHECK(r->body_as_StatusInfo() != nullptr);
  CHECK(ErrorOf(Call(posts, DeleteGroup(18, "comment-created", "post-service"))) == wire::ErrorCode::NotAuthorized);
  CHECK(ErrorOf(Call(ops, DeleteGroup(19, "comment-created", "post-service"))) == wire::ErrorCode::GroupBusy);

  // Every denial was counted, and logged with who and what.
  CHECK(MetricSample(b.broker, "herald_requests_denied_total") == 11);
  CHECK(MetricSample(b.broker, "herald_authentication_failures_total") == 0);
  std::string log = b.broker.LogTail(64 * 1024);
  CHECK(log.find("denied publish on 'orders': no publish permission") != std::string::npos);
  CHECK(log.find("comment-service") != std::string::npos);
  CHECK(log.find("denied subscribe on 'someone-else': no groups permission") != std::string::npos);
}

TEST_CASE("auth: a bad principals file stops brokerd with the line at fault", "[e2e][security]") {
  herald::test::TempDir dir;
  std::string path = dir.str() + "/principals.toml";
  herald::test::WriteFile(path, "[principals.a]\ntoken = \"plain-text-token\"\n");
  auto r = herald::test::RunCommand(std::string(HERALD_BROKERD_PATH) + " --auth-file " + path +
                                    " --listen 127.0.0.1:0 --data-dir " + dir.str() + "/data");
  CHECK(r.exit_code == 1);
  CHECK((r.out + r.err).find(path + ":2: token must be") != std::string::npos);
}

TEST_CASE("tls: connections that never finish a TLS handshake are closed at the handshake timeout",
          "[e2e][security]") {
  herald::test::TempDir dir;
  auto certs = herald::test::MakeTestCerts(dir.str());
  BrokerProcess broker({"--tls-cert", certs.cert_file, "--tls-key", certs.key_file, "--handshake-timeout-ms", "300"});
  RawConnection silent(broker.port());
  RawConnection plain(broker.port());
  REQUIRE(plain.SendHello());  // a plain-TCP client: not a TLS ClientHello
  RawConnection half(broker.port());
  const uint8_t client_hello_start[] = {0x16, 0x03, 0x01, 0x02, 0x00};  // a record header, then nothing
  REQUIRE(half.SendBytes(client_hello_start, sizeof client_hello_start));
  CHECK(plain.ClosedByPeer(5s));
  CHECK(silent.ClosedByPeer(5s));
  CHECK(half.ClosedByPeer(5s));
  CHECK(herald::test::Eventually([&] {
    return broker.LogTail().find("no Hello within the handshake timeout (TimedOut), before the TLS handshake") !=
           std::string::npos;
  }));
}
