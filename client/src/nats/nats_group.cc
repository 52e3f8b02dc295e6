#include "nats/nats_group.h"

#include <charconv>
#include <string_view>

#include <spdlog/spdlog.h>

#include "nats/nats_core.h"

namespace herald::client_detail::nats {

namespace {

constexpr std::string_view kDeadlineKey = "herald ack_deadline_ms=";
constexpr std::string_view kBackoffKey = " backoff_ms=";

std::string Description(const GroupPolicy& p) {
  std::string d = std::string(kDeadlineKey) + std::to_string(p.ack_deadline.count()) + std::string(kBackoffKey);
  for (std::size_t i = 0; i < p.backoff.size(); ++i) {
    if (i > 0) d += ',';
    d += std::to_string(p.backoff[i].count());
  }
  return d;
}

// Reads what Description wrote; false (and *p untouched) for anything else.
bool ParseDescription(const char* text, GroupPolicy* p) {
  if (text == nullptr) return false;
  std::string_view d = text;
  if (d.substr(0, kDeadlineKey.size()) != kDeadlineKey) return false;
  d.remove_prefix(kDeadlineKey.size());
  int64_t deadline = 0;
  auto [end, ec] = std::from_chars(d.data(), d.data() + d.size(), deadline);
  if (ec != std::errc() || deadline <= 0) return false;
  d.remove_prefix(static_cast<std::size_t>(end - d.data()));
  if (d.substr(0, kBackoffKey.size()) != kBackoffKey) return false;
  d.remove_prefix(kBackoffKey.size());
  std::vector<std::chrono::milliseconds> backoff;
  while (!d.empty()) {
    int64_t ms = 0;
    auto [next, err] = std::from_chars(d.data(), d.data() + d.size(), ms);
    if (err != std::errc()) return false;
    backoff.emplace_back(ms);
    d.remove_prefix(static_cast<std::size_t>(next - d.data()));
    if (!d.empty() && d.front() == ',') d.remove_prefix(1);
  }
  p->ack_deadline = std::chrono::milliseconds(deadline);
  p->backoff = std::move(backoff);
  return true;
}

// What the consumer's configuration holds for `p`. *description and *backoff
// own the strings and arrays `cc` points to.
void Apply(const GroupPolicy& p, std::string* description, std::vector<int64_t>* backoff, jsConsumerConfig* cc) {
  *description = Description(p);
  backoff->clear();
  for (auto b : p.backoff) {
    if (backoff->size() >= p.max_deliveries) break;  // JetStream: MaxDeliver > len(BackOff)
    backoff->push_back(Ns(p.ack_deadline + b));
  }
  cc->Description = description->c_str();
  cc->AckWait = Ns(p.ack_deadline);
  cc->MaxDeliver = static_cast<int64_t>(p.max_deliveries) + 1;
  cc->BackOff = backoff->empty() ? nullptr : backoff->data();
  cc->BackOffLen = static_cast<int>(backoff->size());
  cc->MaxAckPending = p.window;
}

std::error_code Refused(const char* what, const SubscribeOptions& o, natsStatus s, jsErrCode jerr) {
  if (s == NATS_ERR && jerr != 0) {
    spdlog::error("herald client (nats): JetStream refused to {} group {} of {}: {}", what, o.group, o.topic,
                  nats_GetLastError(nullptr));
    return make_error_code(errc::invalid_argument);
  }
  return FromNats(s, jerr);
}

// Updates the existing consumer `ci` to the policy `o` asks for, if that differs.
std::error_code Update(jsCtx* js, const std::string& stream, const jsConsumerInfo& ci, const SubscribeOptions& o,
                       GroupPolicy* policy) {
  GroupPolicy now = ci.Config ? GroupPolicy::Of(*ci.Config) : GroupPolicy{};
  GroupPolicy wanted = now.With(o);
  if (!ci.Config || wanted == now) {
    *policy = now;
    return {};
  }
  jsConsumerConfig cc = *ci.Config;  // pointers into ci, which outlives the call
  std::string description;
  std::vector<int64_t> backoff;
  Apply(wanted, &description, &backoff, &cc);
  jsConsumerInfo* updated = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_UpdateConsumer(&updated, js, stream.c_str(), &cc, nullptr, &jerr);
  if (updated) jsConsumerInfo_Destroy(updated);
  if (s != NATS_OK) return Refused("update", o, s, jerr);
  *policy = wanted;
  return {};
}

}  // namespace

GroupPolicy GroupPolicy::With(const SubscribeOptions& o) const {
  GroupPolicy p = *this;
  if (o.ack_deadline.count() > 0) p.ack_deadline = o.ack_deadline;
  if (o.max_deliveries > 0) p.max_deliveries = o.max_deliveries;
  if (!o.backoff.empty()) p.backoff = o.backoff;
  if (o.window > 0) p.window = o.window;
  return p;
}

GroupPolicy GroupPolicy::Of(const jsConsumerConfig& c) {
  GroupPolicy p;
  if (c.MaxDeliver > 1) p.max_deliveries = static_cast<uint32_t>(c.MaxDeliver - 1);
  if (c.MaxAckPending > 0) p.window = static_cast<uint32_t>(c.MaxAckPending);
  if (ParseDescription(c.Description, &p)) return p;
  // Not ours (or from a client before the Description): JetStream replaced
  // AckWait by BackOff[0], so take that as the deadline and the rest as backoff.
  p.backoff.clear();
  if (c.BackOffLen > 0 && c.BackOff) {
    p.ack_deadline = std::chrono::milliseconds(c.BackOff[0] / 1000000);
    for (int i = 0; i < c.BackOffLen; ++i)
      p.backoff.emplace_back((c.BackOff[i] - c.BackOff[0]) / 1000000);
  } else if (c.AckWait > 0) {
    p.ack_deadline = std::chrono::milliseconds(c.AckWait / 1000000);
  }
  return p;
}

std::error_code EnsureGroup(const Core& core, const SubscribeOptions& o, GroupPolicy* policy) {
  jsCtx* js = core.js;
  std::string stream = StreamName(o.topic);
  std::string durable = StreamName(o.group);
  // Twice at most: another member may make the consumer between our look and our add.
  for (int attempt = 0; attempt < 2; ++attempt) {
    jsConsumerInfo* ci = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = core.RepeatableAdmin(
        [&](jsOptions* opts, jsErrCode* e) {
          if (ci) jsConsumerInfo_Destroy(ci);
          ci = nullptr;
          return js_GetConsumerInfo(&ci, js, stream.c_str(), durable.c_str(), opts, e);
        },
        &jerr);
    if (s == NATS_OK) {
      std::error_code ec = Update(js, stream, *ci, o, policy);
      jsConsumerInfo_Destroy(ci);
      return ec;
    }
    if (ci) jsConsumerInfo_Destroy(ci);
    if (jerr != JSConsumerNotFoundErr) return FromNats(s, jerr);

    GroupPolicy p = GroupPolicy{}.With(o);
    jsConsumerConfig cc;
    jsConsumerConfig_Init(&cc);
    cc.Durable = durable.c_str();
    cc.AckPolicy = js_AckExplicit;
    cc.FilterSubject = o.topic.c_str();
    cc.Replicas = 0;  // the stream's
    switch (o.start.from) {
      case StartFrom::earliest: cc.DeliverPolicy = js_DeliverAll; break;
      case StartFrom::latest: cc.DeliverPolicy = js_DeliverNew; break;
      case StartFrom::offset:
        cc.DeliverPolicy = js_DeliverByStartSequence;
        cc.OptStartSeq = std::max<uint64_t>(o.start.offset, 1);
        break;
      case StartFrom::timestamp:
        cc.DeliverPolicy = js_DeliverByStartTime;
        cc.OptStartTime = o.start.timestamp_ms * 1000000;
        break;
    }
    std::string description;
    std::vector<int64_t> backoff;
    Apply(p, &description, &backoff, &cc);
    // JetStream answers OK to the same consumer added again, so a try whose
    // answer was lost after the consumer was made is harmless.
    s = core.RepeatableAdmin(
        [&](jsOptions* opts, jsErrCode* e) {
          jsConsumerInfo* added = nullptr;
          natsStatus st = js_AddConsumer(&added, js, stream.c_str(), &cc, opts, e);
          if (added) jsConsumerInfo_Destroy(added);
          return st;
        },
        &jerr);
    if (s == NATS_OK) {
      *policy = p;
      return {};
    }
    if (jerr != JSConsumerNameExistErr && jerr != JSConsumerExistingActiveErr) return Refused("create", o, s, jerr);
  }
  return make_error_code(errc::internal);
}

}  // namespace herald::client_detail::nats
