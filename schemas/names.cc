#include "schemas/names.h"

#include <charconv>

namespace herald::wire {

bool IsValidName(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string DeadLetterTopicName(std::string_view topic) {
  constexpr std::string_view kSuffix = ".dlq";
  if (topic.size() + kSuffix.size() <= kMaxNameLength) return std::string(topic) + std::string(kSuffix);
  // FNV-1a 64: fixed by its definition, so every broker and client version
  // derives the same name.
  uint64_t hash = 0xcbf29ce484222325ull;
  for (char c : topic) {
    hash ^= static_cast<uint8_t>(c);
    hash *= 0x100000001b3ull;
  }
  constexpr std::size_t kHashDigits = 16;
  constexpr std::size_t kKept = kMaxNameLength - kSuffix.size() - kHashDigits - 1;
  std::string name(topic.substr(0, kKept));
  name += '-';
  for (std::size_t i = 0; i < kHashDigits; ++i) {
    name += "0123456789abcdef"[(hash >> (4 * (kHashDigits - 1 - i))) & 0xf];
  }
  name += kSuffix;
  return name;
}

bool SplitHostPort(std::string_view in, std::string* host, uint16_t* port) {
  std::size_t colon = in.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  std::string_view h = in.substr(0, colon);
  if (h.front() == '[') {
    if (h.back() != ']' || h.size() < 3) return false;
    h = h.substr(1, h.size() - 2);
  }
  std::string_view p = in.substr(colon + 1);
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), value);
  if (p.empty() || ec != std::errc() || ptr != p.data() + p.size() || value > 65535) return false;
  *host = std::string(h);
  *port = static_cast<uint16_t>(value);
  return true;
}

}  // namespace herald::wire
