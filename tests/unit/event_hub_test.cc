#include "event_hub.h"

#include <catch2/catch.hpp>

using namespace herald::services;
using namespace std::chrono_literals;

TEST_CASE("event_hub: a cursor reads back as written, and nothing else parses", "[unit][event_hub]") {
  Cursor c;
  CHECK(FormatCursor(c) == "-.-");
  c[0] = 12;
  CHECK(FormatCursor(c) == "12.-");
  c[1] = 0;
  CHECK(FormatCursor(c) == "12.0");
  auto back = ParseCursor("12.0");
  REQUIRE(back);
  CHECK(*back == c);
  CHECK(ParseCursor("-.7"));
  for (const char* bad : {"", "12", "12.", ".3", "1.2.3", "a.b", "1 .2", "-1.2", "12345678901234567890.1"}) {
    INFO(bad);
    CHECK_FALSE(ParseCursor(bad));
  }
}

TEST_CASE("event_hub: streams get every event put in after they open, and are capped", "[unit][event_hub]") {
  EventHub hub(2);
  hub.SetNext(0, 5);
  Cursor start;
  auto a = hub.Open(&start);
  REQUIRE(a);
  CHECK(start[0] == 5u);
  CHECK_FALSE(start[1]);
  hub.Put({0, 5, "post-updated", "{}"});
  Cursor later;
  auto b = hub.Open(&later);
  REQUIRE(b);
  CHECK(later[0] == 6u);  // past the event it will not get
  Cursor none;
  CHECK_FALSE(hub.Open(&none));  // the cap
  hub.Put({1, 0, "comment-created", "{}"});
  bool overflowed = false;
  CHECK(a->Take(0ms, &overflowed).size() == 2);
  CHECK(b->Take(0ms, &overflowed).size() == 1);
  CHECK_FALSE(overflowed);
  hub.Close(b);
  CHECK(hub.open_streams() == 1);
  CHECK(hub.Open(&none));
}

TEST_CASE("event_hub: a stream that falls too far behind is told to end", "[unit][event_hub]") {
  EventHub hub(1);
  Cursor start;
  auto s = hub.Open(&start);
  for (uint64_t i = 0; i <= EventHub::kMaxQueued; ++i) hub.Put({0, i, "post-updated", "{}"});
  bool overflowed = false;
  CHECK(s->Take(0ms, &overflowed).empty());
  CHECK(overflowed);
}
