#pragma once
// EventHub: the gateway's fan-out of live events to its browsers' event
// streams (GET /api/events). The broker feed puts in each event of the topics
// the gateway follows, with its offset; every open stream gets a copy in a
// queue of its own, which the stream's HTTP thread drains.
//
// A stream's position is a Cursor: for each followed topic, the next offset
// it has not seen. It is the SSE event id, so a reconnecting browser says
// where it stopped (Last-Event-ID), and the gateway reads what it missed from
// the topics (event_stream.cc).
//
// Thread: every method from any thread.

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace herald::services {

// The topics the gateway follows, in the order their offsets appear in a Cursor.
inline constexpr std::array<const char*, 2> kFollowedTopics = {"post-updated", "comment-created"};

// For each followed topic, the next offset not yet seen; nullopt: not known
// (the gateway has not heard from the broker yet).
using Cursor = std::array<std::optional<uint64_t>, kFollowedTopics.size()>;

// "12.7": one decimal offset per topic, "-" for one not known.
std::string FormatCursor(const Cursor& cursor);
// nullopt unless `text` is what FormatCursor makes.
std::optional<Cursor> ParseCursor(const std::string& text);

struct LiveEvent {
  // kFollowedTopics index; kNoTopic for a gateway event (service status),
  // which has no offset and is not replayed.
  static constexpr std::size_t kNoTopic = kFollowedTopics.size();
  std::size_t topic = kNoTopic;
  uint64_t offset = 0;
  std::string name;  // the SSE event name
  std::string data;  // one line of JSON
};

class EventHub {
 public:
  // One browser's event stream.
  class Stream {
   public:
    // Waits up to `timeout` for events; returns those queued (maybe none).
    // Sets *overflowed if the stream fell more than kMaxQueued behind: its
    // queue was dropped, and it must end (the browser resumes from its cursor).
    std::vector<LiveEvent> Take(std::chrono::milliseconds timeout, bool* overflowed);

   private:
    friend class EventHub;
    void Push(const LiveEvent& event);

    std::mutex mu_;
    std::condition_variable ready_;
    std::deque<LiveEvent> queue_;  // guarded by mu_
    bool overflowed_ = false;      // guarded by mu_
  };

  static constexpr std::size_t kMaxQueued = 1000;

  explicit EventHub(std::size_t max_streams) : max_streams_(max_streams) {}

  // A new stream, and the cursor of the events it will get (every event put
  // in after this call); nullptr when max_streams are open.
  std::shared_ptr<Stream> Open(Cursor* start);
  void Close(const std::shared_ptr<Stream>& stream);
  std::size_t open_streams();

  // A followed topic's event, to every stream; also moves the hub's cursor.
  void Put(const LiveEvent& event);
  // What the broker says the topic's next offset is (at subscribe time): the
  // cursor of streams opened before any event arrived.
  void SetNext(std::size_t topic, uint64_t next_offset);

 private:
  const std::size_t max_streams_;
  std::mutex mu_;
  std::set<std::shared_ptr<Stream>> streams_;  // guarded by mu_
  Cursor next_;                                // guarded by mu_
};

}  // namespace herald::services
