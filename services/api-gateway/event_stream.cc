#include "event_stream.h"

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "broker_feed.h"
#include "json_reply.h"

namespace herald::services {

namespace {

using Clock = std::chrono::steady_clock;

// How long a stream's thread waits for events before it looks at its client
// and the heartbeat again.
constexpr std::chrono::milliseconds kPollSlice{250};

// What one open stream keeps between calls of its content provider.
struct StreamState {
  std::shared_ptr<EventHub::Stream> stream;
  Cursor cursor;
  std::string pending;  // written at the first call: hello, then the replay
  Clock::time_point last_write = Clock::now();
};

// Appends `event` as SSE text unless the stream is already past it, and
// moves the cursor.
void Append(const LiveEvent& event, Cursor* cursor, std::string* out) {
  if (event.topic < cursor->size()) {
    auto& next = (*cursor)[event.topic];
    if (next && event.offset < *next) return;  // seen: replayed, or delivered twice
    next = event.offset + 1;
  }
  *out += "id: " + FormatCursor(*cursor) + "\nevent: " + event.name + "\ndata: " + event.data + "\n\n";
}

// Reads from the topics what a browser at `from` missed up to `to`, into
// *out; false when it cannot be read whole.
bool ReadMissed(Client& client, const Cursor& from, const Cursor& to, std::size_t max_events,
                std::vector<LiveEvent>* out) {
  for (std::size_t topic = 0; topic < kFollowedTopics.size(); ++topic) {
    if (!to[topic]) continue;  // the gateway itself has seen nothing there yet
    if (!from[topic] || *from[topic] > *to[topic]) return false;  // unknown, or from another topic's life
    uint64_t position = *from[topic];
    while (position < *to[topic]) {
      FetchResult result;
      if (client.Fetch(kFollowedTopics[topic], StartPosition::AtOffset(position), 200, &result)) return false;
      if (result.earliest_offset > position) return false;  // retention removed some
      if (result.messages.empty()) break;
      for (const auto& m : result.messages) {
        if (auto live = ToLiveEvent(topic, m)) out->push_back(std::move(*live));
        if (out->size() > max_events) return false;
      }
      position = result.next_offset;
    }
  }
  return true;
}

}  // namespace

void AddEventStream(HttpServer& server, EventHub& hub, HealthWatch& health, Client& client,
                    EventStreamOptions options) {
  server.Get("/api/events", [&hub, &health, &client, options](const httplib::Request& req, httplib::Response& res) {
    auto state = std::make_shared<StreamState>();
    Cursor hub_cursor;
    state->stream = hub.Open(&hub_cursor);
    if (!state->stream) {
      res.set_header("Retry-After", "5");
      return ReplyError(res, 503, "too_many_streams", "too many open event streams; retry later");
    }
    state->cursor = hub_cursor;
    std::string last_id = req.get_header_value("Last-Event-ID");
    if (last_id.empty()) last_id = req.get_param_value("last_event_id");
    std::vector<LiveEvent> missed;
    bool reset = false;
    if (!last_id.empty()) {
      auto from = ParseCursor(last_id);
      reset = !from || !ReadMissed(client, *from, hub_cursor, options.max_replay, &missed);
      if (!reset) state->cursor = *from;
    }
    Append({LiveEvent::kNoTopic, 0, "hello", nlohmann::json{{"status", health.Status()}}.dump()}, &state->cursor,
           &state->pending);
    if (reset) Append({LiveEvent::kNoTopic, 0, "reset", "{}"}, &state->cursor, &state->pending);
    for (const auto& event : missed) Append(event, &state->cursor, &state->pending);
    state->pending = "retry: 2000\n\n" + state->pending;

    res.set_header("Cache-Control", "no-store");
    res.set_chunked_content_provider(
        "text/event-stream",
        [state, heartbeat = options.heartbeat](size_t, httplib::DataSink& sink) {
          std::string out = std::move(state->pending);
          state->pending.clear();
          if (out.empty()) {
            bool overflowed = false;
            for (const auto& event : state->stream->Take(kPollSlice, &overflowed))
              Append(event, &state->cursor, &out);
            // Fell too far behind: end the stream; the browser reconnects
            // from its cursor and reads the rest from the topics.
            if (overflowed) return false;
          }
          if (HttpServer::CurrentPeerClosed()) return false;
          auto now = Clock::now();
          if (out.empty() && now - state->last_write >= heartbeat) out = ": heartbeat\n\n";
          if (out.empty()) return true;
          state->last_write = now;
          return sink.write(out.data(), out.size());
        },
        [state, &hub](bool) { hub.Close(state->stream); });
  });
}

}  // namespace herald::services
