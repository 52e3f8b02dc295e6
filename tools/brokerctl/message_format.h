#pragma once
// How consume and tail print a message: raw (the payload and a newline), hex
// (the payload as lowercase hex, one line), or json (one object per line:
// topic, offset, key, headers, timestamp (RFC 3339), delivery_count, and the
// payload as "payload" if it is UTF-8, else as "payload_base64"; the key
// likewise as "key" or "key_base64").

#include <iosfwd>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "herald/message.h"
#include "output.h"

namespace herald::ctl {

enum class Format { raw, json, hex };

// --format raw|json|hex on `cmd`; `*text` empty means "not given".
void AddFormatOption(CLI::App* cmd, std::string* text);
// The format to print in: --format if given, else json under --json, else raw.
Format ChooseFormat(const std::string& text, bool json);

Json MessageJson(const ReceivedMessage& m);
void PrintMessage(std::ostream& out, const ReceivedMessage& m, Format format);

bool IsUtf8(std::string_view s);
std::string Base64(std::string_view s);
std::string Hex(std::string_view s);

}  // namespace herald::ctl
