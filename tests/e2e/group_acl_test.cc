// Group operations against a real brokerd with --auth-file: each needs a right
// on the topic as well as on the group, a refusal reads the same whether or
// not the topic or group exists, and TopicInfo lists only the groups the asker
// may describe. Raw frames, one table row per request kind and case.

#include <functional>

#include <catch2/catch.hpp>

#include "schemas/token.h"
#include "tests/support/command.h"
#include "tests/support/principals_file.h"
#include "tests/support/raw_connection.h"
#include "tests/support/request_frames.h"
#include "tests/support/server_process.h"

using herald::test::BrokerProcess;
using herald::test::RawConnection;
namespace wire = herald::wire;

namespace {

struct Tokens {
  std::string root = wire::NewToken();
  std::string orders = wire::NewToken();
};

// orders-service may read "orders" and run the groups named g-*; root sets up.
std::string WritePrincipals(const std::string& dir, const Tokens& t) {
  std::string path = dir + "/principals.toml";
  herald::test::WriteFile(
      path, herald::test::PrincipalEntry("root", t.root,
                                         "publish = [\"*\"]\nsubscribe = [\"*\"]\ngroups = [\"*\"]\nadmin = [\"*\"]") +
                herald::test::PrincipalEntry("orders-service", t.orders,
                                             "subscribe = [\"orders\"]\ngroups = [\"g-*\"]\nadmin = [\"g-*\"]"));
  return path;
}

template <class Make>
wire::EncodedFrame Build(uint64_t id, Make make) {
  flatbuffers::FlatBufferBuilder fbb;
  return wire::FinishFrame(fbb, id, make(fbb));
}

enum class Kind { kDescribe, kReset, kDelete, kSubscribe };

const char* KindName(Kind k) {
  switch (k) {
    case Kind::kDescribe: return "DescribeGroup";
    case Kind::kReset: return "ResetGroup";
    case Kind::kDelete: return "DeleteGroup";
    case Kind::kSubscribe: return "Subscribe";
  }
  return "?";
}

wire::EncodedFrame GroupRequest(Kind kind, uint64_t id, const std::string& topic, const std::string& group) {
  flatbuffers::FlatBufferBuilder fbb;
  auto t = fbb.CreateString(topic);
  auto g = fbb.CreateString(group);
  switch (kind) {
    case Kind::kDescribe: return wire::FinishFrame(fbb, id, wire::CreateDescribeGroup(fbb, t, g));
    // Latest: a reset that went through would move the floor off 0.
    case Kind::kReset:
      return wire::FinishFrame(fbb, id, wire::CreateResetGroup(fbb, t, g, wire::StartFrom::Latest));
    case Kind::kDelete: return wire::FinishFrame(fbb, id, wire::CreateDeleteGroup(fbb, t, g));
    case Kind::kSubscribe: return wire::FinishFrame(fbb, id, wire::CreateSubscribe(fbb, t, g));
  }
  return {};
}

// The reply to `frame`, skipping the Deliver frames of this connection's subscriptions.
const wire::Frame* Call(RawConnection& raw, const wire::EncodedFrame& frame) {
  REQUIRE(raw.Send(frame));
  for (int skipped = 0; skipped < 100; ++skipped) {
    const wire::Frame* reply = raw.ReadFrame();
    if (reply == nullptr || reply->body_as_Deliver() == nullptr) return reply;
  }
  return nullptr;
}

// "CODE: message", with `name` replaced by NAME, so two refusals that differ
// only in the name they were about compare equal.
std::string Refusal(const wire::Frame* reply, const std::string& name) {
  if (reply == nullptr) return "no reply";
  const auto* err = reply->body_as_ErrorReply();
  if (err == nullptr) return std::string("not an error: ") + wire::EnumNameBody(reply->body_type());
  std::string message = err->message() ? err->message()->str() : "";
  if (auto at = message.find("'" + name + "'"); at != std::string::npos) message.replace(at + 1, name.size(), "NAME");
  return std::string(wire::EnumNameErrorCode(err->code())) + ": " + message;
}

void Setup(RawConnection& root) {
  uint64_t id = 1;
  for (const char* topic : {"orders", "payments"}) {
    REQUIRE(Call(root, Build(id++, [&](auto& fbb) {
              return wire::CreateCreateTopic(fbb, fbb.CreateString(topic));
            }))->body_as_CreateTopicOk() != nullptr);
  }
  // Groups at offset 0 with no members, then one message per topic.
  const std::pair<const char*, const char*> groups[] = {
      {"orders", "g-orders"}, {"orders", "other"}, {"payments", "g-payments"}, {"payments", "other"}};
  for (const auto& [topic, group] : groups) {
    const wire::Frame* ok = Call(root, GroupRequest(Kind::kSubscribe, id++, topic, group));
    REQUIRE(ok != nullptr);
    REQUIRE(ok->body_as_SubscribeOk() != nullptr);
    uint32_t sid = ok->body_as_SubscribeOk()->subscription_id();
    REQUIRE(Call(root, Build(id++, [&](auto& fbb) { return wire::CreateUnsubscribe(fbb, sid); }))
                ->body_as_Ok() != nullptr);
  }
  for (const char* topic : {"orders", "payments"}) {
    REQUIRE(Call(root, Build(id++, [&](auto& fbb) {
              auto batch = wire::CreateBytes(fbb, herald::test::BatchOf({"m"}));
              return wire::CreatePublish(fbb, fbb.CreateString(topic), 0, 0, batch);
            }))->body_as_PublishOk() != nullptr);
  }
}

}  // namespace

TEST_CASE("group acl: every group request needs its right on the topic and on the group", "[e2e][security]") {
  herald::test::TempDir dir;
  Tokens tokens;
  BrokerProcess broker({"--auth-file", WritePrincipals(dir.str(), tokens)});
  RawConnection root(broker.port()), svc(broker.port());
  REQUIRE(root.Handshake(tokens.root));
  REQUIRE(svc.Handshake(tokens.orders));
  Setup(root);

  // Each refused case twice: on a topic and group that exist, and on ones that
  // do not. Both answers must be the same refusal.
  struct Denied {
    const char* what;
    std::string topic, group;            // exist
    std::string missing_topic, missing_group;
    std::string refused_name;            // the name the refusal is about
  };
  const Denied denied[] = {
      {"wrong topic", "payments", "g-payments", "no-such-topic", "g-payments", "payments"},
      {"wrong group", "orders", "other", "orders", "no-such-group", "other"},
      {"neither", "payments", "other", "no-such-topic", "no-such-group", "payments"},
  };
  uint64_t id = 100;
  for (Kind kind : {Kind::kDescribe, Kind::kReset, Kind::kDelete, Kind::kSubscribe}) {
    for (const Denied& d : denied) {
      INFO(KindName(kind) << ", " << d.what);
      std::string existing = Refusal(Call(svc, GroupRequest(kind, id++, d.topic, d.group)), d.refused_name);
      CHECK(existing.rfind("NotAuthorized: ", 0) == 0);
      const std::string& missing_name = d.refused_name == d.topic ? d.missing_topic : d.missing_group;
      CHECK(Refusal(Call(svc, GroupRequest(kind, id++, d.missing_topic, d.missing_group)), missing_name) ==
            existing);
    }
  }

  // Nothing refused changed anything: every group is still there at offset 0.
  for (const auto& [topic, group] : {std::pair{"payments", "g-payments"}, {"payments", "other"}, {"orders", "other"}}) {
    INFO(topic << "/" << group);
    const wire::Frame* info = Call(root, GroupRequest(Kind::kDescribe, id++, topic, group));
    REQUIRE(info != nullptr);
    REQUIRE(info->body_as_GroupInfo() != nullptr);
    CHECK(info->body_as_GroupInfo()->ack_floor() == 0);
  }

  // A topic's description lists only the groups the asker may describe.
  const wire::Frame* topic = Call(svc, Build(id++, [](auto& fbb) {
    return wire::CreateDescribeTopic(fbb, fbb.CreateString("orders"));
  }));
  REQUIRE(topic != nullptr);
  REQUIRE(topic->body_as_TopicInfo() != nullptr);
  REQUIRE(topic->body_as_TopicInfo()->groups()->size() == 1);
  CHECK(topic->body_as_TopicInfo()->groups()->Get(0)->name()->str() == "g-orders");
  const wire::Frame* list = Call(svc, Build(id++, [](auto& fbb) { return wire::CreateListTopics(fbb); }));
  REQUIRE(list != nullptr);
  REQUIRE(list->body_as_TopicList() != nullptr);
  REQUIRE(list->body_as_TopicList()->topics()->size() == 1);
  CHECK(list->body_as_TopicList()->topics()->Get(0)->groups()->size() == 1);
  topic = Call(root, Build(id++, [](auto& fbb) {
    return wire::CreateDescribeTopic(fbb, fbb.CreateString("orders"));
  }));
  REQUIRE(topic != nullptr);
  REQUIRE(topic->body_as_TopicInfo() != nullptr);
  CHECK(topic->body_as_TopicInfo()->groups()->size() == 2);

  // Allowed: its own group on its own topic, each request kind.
  const wire::Frame* r = Call(svc, GroupRequest(Kind::kDescribe, id++, "orders", "g-orders"));
  REQUIRE(r != nullptr);
  CHECK(r->body_as_GroupInfo() != nullptr);
  r = Call(svc, GroupRequest(Kind::kReset, id++, "orders", "g-orders"));
  REQUIRE(r != nullptr);
  REQUIRE(r->body_as_GroupInfo() != nullptr);
  CHECK(r->body_as_GroupInfo()->ack_floor() == 1);
  r = Call(svc, GroupRequest(Kind::kDelete, id++, "orders", "g-orders"));
  REQUIRE(r != nullptr);
  CHECK(r->body_as_Ok() != nullptr);
  r = Call(svc, GroupRequest(Kind::kSubscribe, id++, "orders", "g-orders"));
  REQUIRE(r != nullptr);
  CHECK(r->body_as_SubscribeOk() != nullptr);
}
