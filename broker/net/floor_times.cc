#include "broker/net/floor_times.h"

namespace herald::broker {

namespace {

std::optional<int64_t> InMemory(Topic& topic, const ConsumerGroup& group, uint64_t floor) {
  if (auto held = group.HeldTimestampAt(floor)) return held;
  return topic.log().CachedTimestampAt(floor);
}

}  // namespace

void FloorTimes::AddIfMissing(Topic& topic, const ConsumerGroup& group, Floors* missing) {
  GroupStats stats = group.Stats();
  if (stats.lag == 0 || InMemory(topic, group, stats.ack_floor)) return;
  missing->emplace_back(topic.id(), stats.ack_floor);
}

void FloorTimes::Load(BrokerContext& ctx, Floors missing, std::function<void(FloorTimes)> then) {
  if (missing.empty()) return then(FloorTimes());
  ctx.reads->Run([store = &ctx.store, missing = std::move(missing), then = std::move(then)]() mutable
                 -> ReadRunner::Completion {
    // A reader thread: the store only.
    FloorTimes times;
    for (const auto& [topic_id, offset] : missing) {
      if (auto ms = store->BatchTimestampAt(topic_id, offset)) times.loaded_[{topic_id, offset}] = *ms;
    }
    return [times = std::move(times), then = std::move(then)]() mutable { then(std::move(times)); };
  });
}

std::optional<int64_t> FloorTimes::At(Topic& topic, const ConsumerGroup& group) const {
  GroupStats stats = group.Stats();
  if (auto ms = InMemory(topic, group, stats.ack_floor)) return ms;
  auto it = loaded_.find({topic.id(), stats.ack_floor});
  if (it == loaded_.end()) return std::nullopt;
  return it->second;
}

}  // namespace herald::broker
