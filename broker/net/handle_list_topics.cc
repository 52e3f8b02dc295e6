// ListTopics: one page of topics in name order.
//
// A request costs the I/O thread O(page), not O(topics): the registry is
// ordered by name, so the page starts with one lookup, and the loop below stops
// at whichever bound it reaches first. Every other connection waits while it
// runs, so each bound is what keeps a listing of many topics from stalling them.

#include <algorithm>
#include <string>
#include <vector>

#include "broker/net/handler_support.h"
#include "broker/net/request_handler.h"
#include "broker/net/session.h"

namespace herald::broker {

namespace {

constexpr uint32_t kDefaultPageTopics = 100;
constexpr uint32_t kMaxPageTopics = 1'000;
// A group's TopicInfo entry may read the log (its oldest unacked message's
// time), so a page also stops once it holds this many groups; a topic is never
// split, so one topic with more groups still makes a page of its own.
constexpr std::size_t kMaxPageGroups = 1'000;
// With auth on, a principal may see few of the names it passes over; looking
// at them is cheap but not free, so a page also ends after this many names.
constexpr std::size_t kMaxPageScanned = 10'000;

}  // namespace

void HandleListTopics(Session& session, BrokerContext& ctx, uint64_t request_id,
                      const wire::ListTopics& request) {
  const uint32_t limit =
      request.limit() == 0 ? kDefaultPageTopics : std::min(request.limit(), kMaxPageTopics);
  const auto& all = ctx.registry.topics();
  // `after` is a position: it need not name a topic (one deleted since, or any string).
  auto it = request.after() != nullptr ? all.upper_bound(request.after()->str()) : all.begin();
  // With auth on, a principal sees the topics it has some permission on.
  const Principal* principal = session.principal();

  flatbuffers::FlatBufferBuilder fbb(1024);
  std::vector<flatbuffers::Offset<wire::TopicInfo>> topics;
  std::size_t groups = 0, scanned = 0;
  const std::string* last = nullptr;
  for (; it != all.end() && topics.size() < limit && groups < kMaxPageGroups &&
         scanned < kMaxPageScanned;
       ++it, ++scanned) {
    const auto& [name, topic] = *it;
    last = &name;
    if (principal != nullptr && !principal->acl.AllowsAnyOnTopic(name)) continue;
    topics.push_back(BuildTopicInfo(fbb, ctx, *topic));
    groups += topic->groups().size();
  }
  // Stopped by a bound with names left: the client continues after the last
  // name looked at, whether or not this principal could see it.
  flatbuffers::Offset<flatbuffers::String> next;
  if (it != all.end() && last != nullptr) next = fbb.CreateString(*last);
  auto vec = fbb.CreateVector(topics);
  session.Send(wire::FinishFrame(fbb, request_id, wire::CreateTopicList(fbb, vec, next)));
}

}  // namespace herald::broker
