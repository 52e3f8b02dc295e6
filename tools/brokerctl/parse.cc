#include "parse.h"

#include <charconv>

#include "schemas/units.h"

namespace herald::ctl {

std::optional<uint64_t> ParseCount(const std::string& text) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<StartPosition> ParsePosition(const std::string& text) {
  if (text == "earliest") return StartPosition(StartFrom::earliest);
  if (text == "latest") return StartPosition(StartFrom::latest);
  if (auto offset = ParseCount(text)) return StartPosition::AtOffset(*offset);
  if (auto ms = wire::ParseRfc3339(text)) return StartPosition::AtTime(*ms);
  return std::nullopt;
}

std::optional<std::vector<std::chrono::milliseconds>> ParseDurationList(const std::string& text) {
  std::vector<std::chrono::milliseconds> out;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t comma = text.find(',', pos);
    if (comma == std::string::npos) comma = text.size();
    auto d = wire::ParseDuration(std::string_view(text).substr(pos, comma - pos));
    if (!d) return std::nullopt;
    out.push_back(*d);
    pos = comma + 1;
  }
  return out;
}

void RetentionFlags::AddTo(CLI::App* cmd) {
  cmd->add_option("--retention-age", age_, "drop messages older than this: 90s, 15m, 12h, 7d, 2w (0: no limit)");
  cmd->add_option("--retention-bytes", bytes_, "keep at most this much: 4096, 512MiB, 10GB (0: no limit)");
  cmd->add_option("--retention-messages", messages_, "keep at most this many messages (0: no limit)");
}

std::string RetentionFlags::ApplyTo(Retention* r) const {
  if (!age_.empty()) {
    auto d = wire::ParseDuration(age_);
    if (!d) return "--retention-age wants a duration like 90s, 15m, 12h or 7d, got '" + age_ + "'";
    r->max_age = *d;
  }
  if (!bytes_.empty()) {
    auto b = wire::ParseSize(bytes_);
    if (!b) return "--retention-bytes wants a size like 4096, 512MiB or 10GB, got '" + bytes_ + "'";
    r->max_bytes = *b;
  }
  if (!messages_.empty()) {
    auto n = ParseCount(messages_);
    if (!n) return "--retention-messages wants a number, got '" + messages_ + "'";
    r->max_messages = *n;
  }
  return {};
}

}  // namespace herald::ctl
