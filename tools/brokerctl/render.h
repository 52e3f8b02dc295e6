#pragma once
// How the broker's topics, groups and status look in brokerctl's output, as
// text and as JSON. One place, so that `topic describe`, `topic list` and the
// group commands name every field the same way.
//
// Group fields by their operator names: position = the ack floor (every
// offset below it is acknowledged), unacked = handed out, not yet acked.

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "herald/client.h"
#include "output.h"

namespace herald::ctl {

Json ToJson(const Retention& r);
Json ToJson(const GroupInfo& g);
Json ToJson(const TopicInfo& t);
Json ToJson(const BrokerStatus& s);
// "2026-12-06T03:00:00.000Z ok", or "... FAILED, ...: why" for the last reload.
std::string ReloadText(const BrokerStatus& s);

// "1h 2m 5s": for reading, not for parsing back (rounded to the second).
std::string DurationText(std::chrono::milliseconds d);
// "1.5 MiB": rounded to one decimal.
std::string SizeText(uint64_t bytes);
// "age 7d, bytes 1GiB, messages unlimited"
std::string RetentionText(const Retention& r);
// "1s,5s,30s", or "-" when empty.
std::string BackoffText(const std::vector<std::chrono::milliseconds>& backoff);
// "0..41" for the messages in a topic, or "empty".
std::string OffsetRange(uint64_t earliest, uint64_t next);

// GROUP MEMBERS POSITION UNACKED LAG OLDEST-UNACKED DEAD-LETTERED
Table GroupTable(const std::vector<GroupInfo>& groups, bool with_topic = false);
void PrintGroup(const GroupInfo& g);

}  // namespace herald::ctl
