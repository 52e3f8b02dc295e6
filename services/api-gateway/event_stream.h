#pragma once
// GET /api/events: the gateway's live events as server-sent events
// (text/event-stream). Each event is
//   id: <cursor>            (event_hub.h: where the stream stands in each topic)
//   event: post-updated | comment-created | status | hello | reset
//   data: <one line of JSON>
// The stream opens with "hello" ({"status": ...}, the services' health). A
// browser that reconnects sends its last id as Last-Event-ID (or
// ?last_event_id= when it opens a new EventSource itself) and first gets
// what it missed, read from the topics with Fetch; if that is no longer
// possible (retention dropped it, more than kMaxReplay, the broker does not
// answer) it gets "reset" and reloads what it shows. A comment line every
// heartbeat keeps proxies from closing a quiet stream. At most
// max_streams streams are open at once (503 beyond).

#include <chrono>
#include <cstddef>

#include "event_hub.h"
#include "health_watch.h"
#include "herald/client.h"
#include "http_server.h"

namespace herald::services {

struct EventStreamOptions {
  std::chrono::milliseconds heartbeat{15000};
  std::size_t max_replay = 1000;  // missed events read back on a reconnect, at most
};

// Adds GET /api/events. The arguments must outlive the server.
void AddEventStream(HttpServer& server, EventHub& hub, HealthWatch& health, Client& client,
                    EventStreamOptions options);

}  // namespace herald::services
