#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace herald::wire {

inline constexpr std::size_t kMaxNameLength = 249;

// Topic and group names: [A-Za-z0-9._-]{1,249}. They appear in storage keys and
// file-system-like contexts, so the alphabet is kept small on purpose.
bool IsValidName(std::string_view name);

// The dead-letter topic of `topic`: "TOPIC.dlq" for names of up to 245
// characters. A longer name (up to 249, or a dead-letter topic's own, which
// may be 249) keeps its first 228 characters, then '-', 16 hex digits of the
// FNV-1a 64 hash of the whole name, then ".dlq": 249 characters. So every valid
// topic, dead-letter topics included, has a valid dead-letter topic.
std::string DeadLetterTopicName(std::string_view topic);

// Splits "host:port" or "[v6]:port" (as in --listen and --broker). False if
// `in` is not of that form or the port is not 0..65535.
bool SplitHostPort(std::string_view in, std::string* host, uint16_t* port);

}  // namespace herald::wire
