#include "message_format.h"

#include <ostream>

#include "schemas/units.h"

namespace herald::ctl {

void AddFormatOption(CLI::App* cmd, std::string* text) {
  cmd->add_option("--format", *text,
                  "raw: the payload per line; hex: the payload in hex per line; json: one object "
                  "per line with topic, offset, key, headers, timestamp, delivery_count, payload "
                  "(default: raw, or json with --json)")
      ->check(CLI::IsMember({"raw", "json", "hex"}));
}

Format ChooseFormat(const std::string& text, bool json) {
  if (text == "json") return Format::json;
  if (text == "hex") return Format::hex;
  if (text == "raw") return Format::raw;
  return json ? Format::json : Format::raw;
}

bool IsUtf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t n;
    uint32_t cp;
    if (c < 0x80) { ++i; continue; }
    if ((c & 0xE0) == 0xC0) { n = 1; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { n = 2; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { n = 3; cp = c & 0x07; }
    else return false;
    if (i + n >= s.size()) return false;  // truncated sequence
    for (std::size_t k = 1; k <= n; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and values above U+10FFFF are not UTF-8.
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

std::string Base64(std::string_view s) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((s.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < s.size(); i += 3) {
    uint32_t v = static_cast<uint32_t>(static_cast<unsigned char>(s[i])) << 16;
    if (i + 1 < s.size()) v |= static_cast<uint32_t>(static_cast<unsigned char>(s[i + 1])) << 8;
    if (i + 2 < s.size()) v |= static_cast<unsigned char>(s[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < s.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += i + 2 < s.size() ? kAlphabet[v & 63] : '=';
  }
  return out;
}

std::string Hex(std::string_view s) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size() * 2);
  for (char c : s) {
    auto b = static_cast<unsigned char>(c);
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

Json MessageJson(const ReceivedMessage& m) {
  Json j;
  j["topic"] = m.topic;
  if (!m.group.empty()) j["group"] = m.group;
  j["offset"] = m.offset;
  if (!m.key) {
    j["key"] = nullptr;
  } else if (IsUtf8(*m.key)) {
    j["key"] = *m.key;
  } else {
    j["key_base64"] = Base64(*m.key);
  }
  // An object for jq's sake; a repeated header name keeps its first value,
  // as ReceivedMessage::header() does.
  Json headers = Json::object();
  for (const auto& h : m.headers) {
    if (!headers.contains(h.name)) headers[h.name] = h.value;
  }
  j["headers"] = headers;
  j["timestamp"] = wire::FormatRfc3339(m.timestamp_ms);
  j["delivery_count"] = m.delivery_count;
  if (IsUtf8(m.payload)) {
    j["payload"] = m.payload;
  } else {
    j["payload_base64"] = Base64(m.payload);
  }
  return j;
}

void PrintMessage(std::ostream& out, const ReceivedMessage& m, Format format) {
  switch (format) {
    case Format::raw:
      out << m.payload << "\n";
      break;
    case Format::hex:
      out << Hex(m.payload) << "\n";
      break;
    case Format::json:
      out << MessageJson(m).dump(-1, ' ', false, Json::error_handler_t::replace) << "\n";
      break;
  }
  out << std::flush;
}

}  // namespace herald::ctl
