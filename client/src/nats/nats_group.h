#pragma once
// A consumer group on JetStream: the durable pull consumer StreamName(group)
// of the topic's stream, made on the group's first Subscribe and updated
// (js_UpdateConsumer) when a later Subscribe asks for other settings.
//
// JetStream keeps one configuration per consumer, so every setting is the
// group's: the last Subscribe that names a setting (non-zero / non-empty) sets
// it for all members. `start` only matters for a new group (a consumer's
// DeliverPolicy cannot change). Mapping:
//
//   ack_deadline    AckWait
//   max_deliveries  MaxDeliver = max_deliveries + 1 (the extra delivery tells
//                   the client that the last one's deadline passed)
//   backoff         BackOff[i] = ack_deadline + backoff[i], at most
//                   max_deliveries entries (JetStream: MaxDeliver > len(BackOff))
//   window          MaxAckPending
//
// The policy as Herald states it (ack deadline and backoff, which BackOff
// mixes) is kept in the consumer's Description, "herald ack_deadline_ms=N
// backoff_ms=A,B,...", so that a later change of one recomputes BackOff from
// the other, and DescribeGroup reports the backoff.

#include <chrono>
#include <cstdint>
#include <string>
#include <system_error>
#include <vector>

#include <nats/nats.h>

#include "herald/client.h"
#include "nats/nats_core.h"

namespace herald::client_detail::nats {

struct GroupPolicy {
  std::chrono::milliseconds ack_deadline{30000};
  uint32_t max_deliveries = 10;
  std::vector<std::chrono::milliseconds> backoff;
  uint32_t window = 1000;

  bool operator==(const GroupPolicy&) const = default;
  // This policy with the settings `o` names.
  GroupPolicy With(const SubscribeOptions& o) const;
  // What a consumer's configuration says (its Description if it has ours).
  static GroupPolicy Of(const jsConsumerConfig& config);
};

// Makes the group's consumer, or updates it to what `o` asks for; *policy:
// the group's policy afterwards. A change JetStream refuses fails with
// errc::invalid_argument (logged with JetStream's reason).
std::error_code EnsureGroup(const Core& core, const SubscribeOptions& o, GroupPolicy* policy);

}  // namespace herald::client_detail::nats
