#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
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

struct HeaderView {
  std::string_view name;
  std::string_view value;
};

struct OwnedMessage;

// A message as a subscriber receives it: views into the bytes it arrived in,
// copied from nowhere. In a handler they are valid until the handler
// returns (a Delivery kept longer still acks, but its message() must not be
// read); in a FetchResult, as long as the result. ToOwned() makes a copy
// that lives on its own.
struct ReceivedMessage {
  std::string_view topic;
  std::string_view group;
  uint64_t offset = 0;
  int64_t timestamp_ms = 0;     // broker time of the append, ms since the Unix epoch
  uint32_t delivery_count = 0;  // 1 on the first delivery, more after redeliveries
  std::optional<std::string_view> key;
  std::vector<HeaderView> headers;
  std::string_view payload;

  // First header with this name, if any.
  std::optional<std::string_view> header(std::string_view name) const {
    for (const auto& h : headers)
      if (h.name == name) return h.value;
    return std::nullopt;
  }
  OwnedMessage ToOwned() const;
};

// A received message that owns its bytes.
struct OwnedMessage {
  std::string topic;
  std::string group;
  uint64_t offset = 0;
  int64_t timestamp_ms = 0;
  uint32_t delivery_count = 0;
  std::optional<std::string> key;
  std::vector<Header> headers;
  std::string payload;

  // First header with this name, if any.
  const std::string* header(std::string_view name) const {
    for (const auto& h : headers)
      if (h.name == name) return &h.value;
    return nullptr;
  }
  // Views into this message: valid while it lives, unmoved.
  ReceivedMessage View() const {
    ReceivedMessage m{topic, group, offset, timestamp_ms, delivery_count, std::nullopt, {}, payload};
    if (key) m.key = *key;
    m.headers.reserve(headers.size());
    for (const auto& h : headers) m.headers.push_back({h.name, h.value});
    return m;
  }
};

inline OwnedMessage ReceivedMessage::ToOwned() const {
  OwnedMessage m{std::string(topic), std::string(group), offset, timestamp_ms, delivery_count,
                 std::nullopt, {}, std::string(payload)};
  if (key) m.key = std::string(*key);
  m.headers.reserve(headers.size());
  for (const auto& h : headers) m.headers.push_back({std::string(h.name), std::string(h.value)});
  return m;
}

}  // namespace herald
