#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace herald {

// Bytes are carried in std::string: any byte value is allowed in key, header
// values and payload.
struct Header {
  std::string name;
  std::string value;
};

// A message to publish.
struct Message {
  std::optional<std::string> key;  // messages of one key are consumed in order
  std::vector<Header> headers;
  std::string payload;
};

// A message as a subscriber receives it.
struct ReceivedMessage {
  std::string topic;
  std::string group;
  uint64_t offset = 0;
  int64_t timestamp_ms = 0;     // broker time of the append, ms since the Unix epoch
  uint32_t delivery_count = 0;  // 1 on the first delivery, more after redeliveries
  std::optional<std::string> key;
  std::vector<Header> headers;
  std::string payload;

  // First header with this name, if any.
  const std::string* header(const std::string& name) const {
    for (const auto& h : headers)
      if (h.name == name) return &h.value;
    return nullptr;
  }
};

}  // namespace herald
