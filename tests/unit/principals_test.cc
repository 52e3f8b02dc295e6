// Principals files, ACL patterns and token hashes.

#include <catch2/catch.hpp>

#include "broker/security/principals.h"
#include "schemas/token.h"

using herald::broker::NamePattern;
using herald::broker::Permission;
using herald::broker::Principals;
namespace wire = herald::wire;

namespace {

std::unique_ptr<Principals> ParseOk(const std::string& text) {
  std::unique_ptr<Principals> p;
  auto s = Principals::Parse(text, "principals.toml", &p);
  INFO(s.message());
  REQUIRE(s.ok());
  return p;
}

std::string ParseError(const std::string& text) {
  std::unique_ptr<Principals> p;
  auto s = Principals::Parse(text, "principals.toml", &p);
  REQUIRE_FALSE(s.ok());
  return s.message();
}

std::string Hash(const std::string& token) { return wire::FormatTokenHash(wire::HashToken(token)); }

}  // namespace

TEST_CASE("token: hashes round-trip, new tokens differ, compare by value", "[unit][security]") {
  std::string a = wire::NewToken(), b = wire::NewToken();
  CHECK(a.size() == 64);
  CHECK(a != b);
  auto parsed = wire::ParseTokenHash(Hash(a));
  REQUIRE(parsed);
  CHECK(wire::DigestsEqual(*parsed, wire::HashToken(a)));
  CHECK_FALSE(wire::DigestsEqual(*parsed, wire::HashToken(b)));
  // Known vector: SHA-256("abc").
  CHECK(Hash("abc") == "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK_FALSE(wire::ParseTokenHash("sha256:xyz"));
  CHECK_FALSE(wire::ParseTokenHash(a));  // a token is not a hash
  CHECK_FALSE(wire::ParseTokenHash("md5:" + std::string(64, '0')));
}

TEST_CASE("acl: names, prefixes and the wildcard", "[unit][security]") {
  auto exact = NamePattern::Parse("orders");
  auto prefix = NamePattern::Parse("comment-*");
  auto all = NamePattern::Parse("*");
  REQUIRE(exact);
  REQUIRE(prefix);
  REQUIRE(all);
  CHECK(exact->Matches("orders"));
  CHECK_FALSE(exact->Matches("orders2"));
  CHECK_FALSE(exact->Matches("order"));
  CHECK(prefix->Matches("comment-created"));
  CHECK(prefix->Matches("comment-"));
  CHECK_FALSE(prefix->Matches("comment"));
  CHECK_FALSE(prefix->Matches("post-comment-created"));
  CHECK(all->Matches("anything.dlq"));
  CHECK_FALSE(NamePattern::Parse(""));
  CHECK_FALSE(NamePattern::Parse("a*b"));
  CHECK_FALSE(NamePattern::Parse("**"));
  CHECK_FALSE(NamePattern::Parse("bad name"));
  CHECK(prefix->ToString() == "comment-*");
}

TEST_CASE("principals: a file with ACLs authenticates tokens and answers permissions", "[unit][security]") {
  std::string comment_token = wire::NewToken(), post_token = wire::NewToken(), admin_token = wire::NewToken();
  auto p = ParseOk(
      "# Herald principals\n"
      "[principals.comment-service]\n"
      "token = \"" + Hash(comment_token) + "\"   # the comment-service's token\n"
      "publish = [\"comment-created\", \"comment-deleted\"]\n"
      "\n"
      "[principals.post-service]\n"
      "token = \"" + Hash(post_token) + "\"\n"
      "subscribe = [\n"
      "  \"comment-*\",\n"
      "]\n"
      "groups = [\"post-service\"]\n"
      "[principals.ops]\n"
      "token = \"" + Hash(admin_token) + "\"\n"
      "admin = [\"*\"]\n");
  REQUIRE(p->size() == 3);

  const auto* comments = p->Authenticate(comment_token);
  REQUIRE(comments != nullptr);
  CHECK(comments->name == "comment-service");
  CHECK(comments->acl.Allows(Permission::kPublish, "comment-created"));
  CHECK_FALSE(comments->acl.Allows(Permission::kPublish, "post-created"));
  CHECK_FALSE(comments->acl.Allows(Permission::kSubscribe, "comment-created"));
  CHECK_FALSE(comments->acl.Allows(Permission::kAdmin, "comment-created"));

  const auto* posts = p->Authenticate(post_token);
  REQUIRE(posts != nullptr);
  CHECK(posts->name == "post-service");
  CHECK(posts->acl.Allows(Permission::kSubscribe, "comment-deleted"));
  CHECK(posts->acl.Allows(Permission::kGroup, "post-service"));
  CHECK_FALSE(posts->acl.Allows(Permission::kGroup, "post-service-2"));
  CHECK_FALSE(posts->acl.Allows(Permission::kPublish, "comment-created"));
  CHECK(posts->acl.AllowsAnyOnTopic("comment-created"));
  CHECK_FALSE(posts->acl.AllowsAnyOnTopic("orders"));

  const auto* ops = p->Authenticate(admin_token);
  REQUIRE(ops != nullptr);
  CHECK(ops->acl.Allows(Permission::kAdmin, "*"));
  CHECK_FALSE(ops->acl.Allows(Permission::kPublish, "orders"));

  CHECK(p->Authenticate("") == nullptr);
  CHECK(p->Authenticate(wire::NewToken()) == nullptr);
  CHECK(p->Authenticate(Hash(comment_token)) == nullptr);  // the hash is not the token
}

TEST_CASE("principals: mistakes in the file are refused with file and line", "[unit][security]") {
  std::string h = Hash("t1");
  CHECK(ParseError("[principals.a]\npublish = [\"x\"]\n").find("principals.toml:1: principal 'a' has no token") == 0);
  CHECK(ParseError("[principals.a]\ntoken = \"t1\"\n").find("principals.toml:2: token must be") == 0);
  CHECK(ParseError("[principals.a]\ntoken = \"" + h + "\"\n[principals.b]\ntoken = \"" + h + "\"\n")
            .find("principals.toml:4: this token hash belongs to another principal") == 0);
  CHECK(ParseError("[principals.a]\ntoken = \"" + h + "\"\n[principals.a]\n").find("principals.toml:3: principal 'a' appears twice") == 0);
  CHECK(ParseError("[principals.a]\ntoken = \"" + h + "\"\npublsh = []\n").find("principals.toml:3: unknown key 'publsh'") == 0);
  CHECK(ParseError("[principals.a]\ntoken = \"" + h + "\"\npublish = [\"a b\"]\n").find("principals.toml:3: 'a b' is not a pattern") == 0);
  CHECK(ParseError("[principals.a]\ntoken = \"" + h + "\"\npublish = \"x\"\n").find("principals.toml:3: publish must be a list") == 0);
  CHECK(ParseError("[principals.a]\ntoken = \"" + h + "\"\npublish = [\"x\",\n").find("principals.toml:3: an array is not closed") == 0);
  CHECK(ParseError("publish = []\n").find("principals.toml:1: a key before the first") == 0);
  CHECK(ParseError("[users.a]\n").find("principals.toml:1: unknown section [users.a]") == 0);
  CHECK(ParseError("[principals.bad name]\n").find("principals.toml:1: 'bad name' is not a principal name") == 0);
  // An empty file is valid: auth on, nobody admitted.
  CHECK(ParseOk("# nobody yet\n")->size() == 0);
}
