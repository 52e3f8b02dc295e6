#pragma once
// ConnectionCounts: how many client connections the broker holds, for the
// connection limit, status and /metrics. The network listener keeps the
// connections and implements it; readers above or beside net (metrics) see
// only the counts, never a session.
//
// Thread: the broker's I/O thread.

#include <cstdint>

namespace herald::broker {

class ConnectionCounts {
 public:
  virtual ~ConnectionCounts() = default;
  // Connections not closed yet.
  virtual uint32_t OpenSessions() const = 0;
  // Past Hello and not closing: what --max-connections counts.
  virtual uint32_t AuthenticatedSessions() const = 0;
  // Not past Hello yet: what --max-pending-connections counts.
  virtual uint32_t PendingSessions() const = 0;
};

}  // namespace herald::broker
