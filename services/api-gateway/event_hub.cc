#include "event_hub.h"

#include <algorithm>

namespace herald::services {

std::string FormatCursor(const Cursor& cursor) {
  std::string out;
  for (std::size_t i = 0; i < cursor.size(); ++i) {
    if (i > 0) out += '.';
    out += cursor[i] ? std::to_string(*cursor[i]) : "-";
  }
  return out;
}

std::optional<Cursor> ParseCursor(const std::string& text) {
  Cursor cursor;
  std::size_t pos = 0;
  for (std::size_t i = 0; i < cursor.size(); ++i) {
    if (i > 0) {
      if (pos >= text.size() || text[pos] != '.') return std::nullopt;
      ++pos;
    }
    if (pos < text.size() && text[pos] == '-') {
      ++pos;
      continue;
    }
    std::size_t digits = 0;
    uint64_t value = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9' && digits < 19) {
      value = value * 10 + static_cast<uint64_t>(text[pos++] - '0');
      ++digits;
    }
    if (digits == 0) return std::nullopt;
    cursor[i] = value;
  }
  if (pos != text.size()) return std::nullopt;
  return cursor;
}

std::vector<LiveEvent> EventHub::Stream::Take(std::chrono::milliseconds timeout, bool* overflowed) {
  std::unique_lock lock(mu_);
  ready_.wait_for(lock, timeout, [&] { return !queue_.empty() || overflowed_; });
  *overflowed = overflowed_;
  std::vector<LiveEvent> out(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.end()));
  queue_.clear();
  return out;
}

void EventHub::Stream::Push(const LiveEvent& event) {
  {
    std::lock_guard lock(mu_);
    if (overflowed_) return;
    if (queue_.size() >= kMaxQueued) {
      overflowed_ = true;
      queue_.clear();
    } else {
      queue_.push_back(event);
    }
  }
  ready_.notify_one();
}

std::shared_ptr<EventHub::Stream> EventHub::Open(Cursor* start) {
  std::lock_guard lock(mu_);
  if (streams_.size() >= max_streams_) return nullptr;
  auto stream = std::make_shared<Stream>();
  streams_.insert(stream);
  *start = next_;
  return stream;
}

void EventHub::Close(const std::shared_ptr<Stream>& stream) {
  std::lock_guard lock(mu_);
  streams_.erase(stream);
}

std::size_t EventHub::open_streams() {
  std::lock_guard lock(mu_);
  return streams_.size();
}

void EventHub::Put(const LiveEvent& event) {
  // Under the hub's lock: a stream opened concurrently either gets the event
  // or starts with a cursor past it, never neither.
  std::lock_guard lock(mu_);
  if (event.topic < next_.size()) next_[event.topic] = std::max(next_[event.topic].value_or(0), event.offset + 1);
  for (const auto& stream : streams_) stream->Push(event);
}

void EventHub::SetNext(std::size_t topic, uint64_t next_offset) {
  std::lock_guard lock(mu_);
  if (topic < next_.size()) next_[topic] = std::max(next_[topic].value_or(0), next_offset);
}

}  // namespace herald::services
