// CheckFraming: which body a request has, from its headers alone.

#include <catch2/catch.hpp>

#include "request_framing.h"

using herald::services::CheckFraming;

namespace {
constexpr std::size_t kMax = 64u << 10;

int RefusedWith(const httplib::Headers& headers) {
  auto framing = CheckFraming(headers, kMax);
  return framing.error ? framing.error->status : 0;
}
}  // namespace

TEST_CASE("framing: no Content-Length means no body; a plain one is the body's length", "[unit][http]") {
  CHECK(CheckFraming({}, kMax).body_bytes == 0);
  CHECK_FALSE(CheckFraming({}, kMax).error);
  auto framing = CheckFraming({{"Content-Length", "1234"}}, kMax);
  CHECK_FALSE(framing.error);
  CHECK(framing.body_bytes == 1234);
  CHECK(CheckFraming({{"content-length", "65536"}}, kMax).body_bytes == kMax);  // names are case-insensitive
}

TEST_CASE("framing: Transfer-Encoding is refused, with Content-Length as smuggling", "[unit][http]") {
  auto both = CheckFraming({{"Transfer-Encoding", "chunked"}, {"Content-Length", "3"}}, kMax);
  REQUIRE(both.error);
  CHECK(both.error->status == 400);
  CHECK(both.error->code == "bad_framing");
  CHECK(RefusedWith({{"transfer-encoding", "identity"}, {"CONTENT-LENGTH", "0"}}) == 400);
  CHECK(RefusedWith({{"Transfer-Encoding", "chunked"}}) == 411);
  CHECK(RefusedWith({{"Transfer-Encoding", "gzip, chunked"}}) == 411);
}

TEST_CASE("framing: a Content-Length that is not one plain number is refused", "[unit][http]") {
  CHECK(RefusedWith({{"Content-Length", "5"}, {"Content-Length", "5"}}) == 400);
  CHECK(RefusedWith({{"Content-Length", "5, 5"}}) == 400);
  CHECK(RefusedWith({{"Content-Length", "-1"}}) == 400);
  CHECK(RefusedWith({{"Content-Length", "+5"}}) == 400);
  CHECK(RefusedWith({{"Content-Length", "0x10"}}) == 400);
  CHECK(RefusedWith({{"Content-Length", ""}}) == 400);
  CHECK(RefusedWith({{"Content-Length", "99999999999999999999"}}) == 400);  // 20 digits: would overflow
}

TEST_CASE("framing: a Content-Length above the limit is 413 before any body byte", "[unit][http]") {
  auto framing = CheckFraming({{"Content-Length", "65537"}}, kMax);
  REQUIRE(framing.error);
  CHECK(framing.error->status == 413);
  CHECK(framing.error->code == "body_too_large");
  CHECK(RefusedWith({{"Content-Length", "9999999999999999999"}}) == 413);  // 19 digits: the largest accepted form
}
