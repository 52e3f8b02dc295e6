// ListTopics: one page of topics in name order.
//
// A request costs the I/O thread O(page), not O(topics): every other
// connection waits while it runs. The registry is ordered by name, and the
// topics a principal may see are, per pattern of its ACL, one contiguous run of
// that order (a name, or every name with a prefix), so a page merges those runs
// from the cursor on and never looks at a topic the principal cannot see. That
// also keeps `next` to names the principal may see.

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
// A group's TopicInfo entry may need its oldest unacked message's time (read
// off the I/O thread if memory lacks it, one batch of reads per page), so a
// page also stops once it holds this many groups; a topic is never split, so
// one topic with more groups still makes a page of its own.
constexpr std::size_t kMaxPageGroups = 1'000;

using TopicMap = std::map<std::string, std::unique_ptr<Topic>>;

// The topics one pattern matches, after a cursor, in name order.
class PatternRun {
 public:
  PatternRun(const TopicMap& all, const NamePattern& pattern, const std::string& after)
      : all_(all), pattern_(pattern) {
    if (!pattern.is_prefix()) {
      it_ = pattern.text() > after ? all.find(pattern.text()) : all.end();
    } else {
      it_ = after < pattern.text() ? all.lower_bound(pattern.text()) : all.upper_bound(after);
    }
    Settle();
  }
  bool done() const { return it_ == all_.end(); }
  TopicMap::const_iterator current() const { return it_; }
  void Advance() {
    it_ = pattern_.is_prefix() ? std::next(it_) : all_.end();
    Settle();
  }

 private:
  // Past the prefix's run: done.
  void Settle() {
    if (it_ != all_.end() && !pattern_.Matches(it_->first)) it_ = all_.end();
  }
  const TopicMap& all_;
  const NamePattern& pattern_;
  TopicMap::const_iterator it_;
};

}  // namespace

void HandleListTopics(Session& session, BrokerContext& ctx, uint64_t request_id,
                      const wire::ListTopics& request) {
  const uint32_t limit =
      request.limit() == 0 ? kDefaultPageTopics : std::min(request.limit(), kMaxPageTopics);
  // `after` is a position: it need not name a topic (one deleted since, or any string).
  const std::string after = request.after() != nullptr ? request.after()->str() : std::string();
  // With auth on, a principal sees the topics it has some permission on.
  const Principal* principal = session.principal();
  const std::vector<NamePattern> patterns =
      principal != nullptr ? principal->acl.TopicPatterns() : std::vector{NamePattern::Everything()};
  const TopicMap& all = ctx.registry.topics();
  std::vector<PatternRun> runs;
  runs.reserve(patterns.size());
  for (const NamePattern& p : patterns) runs.emplace_back(all, p, after);

  // The page: its topics by id, so that a topic deleted while the times of
  // its groups' floors are read is left out, not mistaken for another.
  std::vector<uint64_t> page;
  std::size_t groups = 0;
  const std::string* last = nullptr;
  bool more = false;
  FloorTimes::Floors missing;
  for (;;) {
    // The next visible topic: the smallest name any run is at.
    auto next = all.end();
    for (const PatternRun& r : runs) {
      if (!r.done() && (next == all.end() || r.current()->first < next->first)) next = r.current();
    }
    if (next == all.end()) break;
    if (page.size() >= limit || groups >= kMaxPageGroups) {
      more = true;
      break;
    }
    page.push_back(next->second->id());
    AddMissingFloors(*next->second, session, &missing);
    groups += next->second->groups().size();
    last = &next->first;
    // Every run at this name moves on (patterns may overlap).
    for (PatternRun& r : runs) {
      if (!r.done() && r.current() == next) r.Advance();
    }
  }
  std::string next_cursor = more && last != nullptr ? *last : std::string();
  session.BeginRequest(0);
  FloorTimes::Load(ctx, std::move(missing),
                   [self = session.Self(), &ctx, request_id, page = std::move(page),
                    next_cursor = std::move(next_cursor)](FloorTimes times) {
    self->EndRequest(0);
    if (self->closed()) return;
    flatbuffers::FlatBufferBuilder fbb(1024);
    std::vector<flatbuffers::Offset<wire::TopicInfo>> topics;
    for (uint64_t id : page) {
      if (Topic* topic = ctx.registry.FindById(id)) topics.push_back(BuildTopicInfo(fbb, ctx, *topic, *self, times));
    }
    flatbuffers::Offset<flatbuffers::String> cursor;
    if (!next_cursor.empty()) cursor = fbb.CreateString(next_cursor);
    auto vec = fbb.CreateVector(topics);
    self->Send(wire::FinishFrame(fbb, request_id, wire::CreateTopicList(fbb, vec, cursor)));
  });
}

}  // namespace herald::broker
