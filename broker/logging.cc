#include "broker/logging.h"

#include <mutex>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace herald::broker {

namespace {
constexpr const char* kLoggers[] = {"broker", "storage", "dispatch", "net"};
std::mutex g_mu;

// The one sink every broker logger shares, so that one set_formatter() call
// changes them all, including loggers created later.
std::shared_ptr<spdlog::sinks::sink> Sink() {
  static auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  return sink;
}

// Length of the valid UTF-8 sequence at s[0], or 0 if it is not one
// (overlong forms, surrogates and code points above U+10FFFF included).
std::size_t Utf8SequenceLength(std::string_view s) {
  auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  auto cont = [&](std::size_t i) { return i < s.size() && (b(i) & 0xC0) == 0x80; };
  unsigned char c = b(0);
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xE0 && b(1) < 0xA0) return 0;  // overlong
    if (c == 0xED && b(1) > 0x9F) return 0;  // surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xF0 && b(1) < 0x90) return 0;  // overlong
    if (c == 0xF4 && b(1) > 0x8F) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

void AppendJsonEscaped(std::string_view s, spdlog::memory_buf_t& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (std::size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = Utf8SequenceLength(s.substr(i));
    if (len == 0) {
      out.append(std::string_view("\\ufffd"));
      ++i;
      continue;
    }
    if (len > 1) {
      out.append(s.substr(i, len));
    } else if (c == '"') {
      out.append(std::string_view("\\\""));
    } else if (c == '\\') {
      out.append(std::string_view("\\\\"));
    } else if (c == '\n') {
      out.append(std::string_view("\\n"));
    } else if (c == '\r') {
      out.append(std::string_view("\\r"));
    } else if (c == '\t') {
      out.append(std::string_view("\\t"));
    } else if (c < 0x20 || c == 0x7f) {
      const char u[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
      out.append(u, u + sizeof u);
    } else {
      out.push_back(static_cast<char>(c));
    }
    i += len;
  }
}

// %* in the JSON pattern: the message text, escaped for a JSON string.
class JsonEscapedMessage : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    AppendJsonEscaped(std::string_view(msg.payload.data(), msg.payload.size()), dest);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonEscapedMessage>();
  }
};

// %& in the JSON pattern: the logger name, escaped the same way.
class JsonEscapedLoggerName : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    AppendJsonEscaped(std::string_view(msg.logger_name.data(), msg.logger_name.size()), dest);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonEscapedLoggerName>();
  }
};

std::unique_ptr<spdlog::formatter> JsonFormatter() {
  auto f = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
  f->add_flag<JsonEscapedMessage>('*');
  f->add_flag<JsonEscapedLoggerName>('&');
  // Level names (trace..critical) need no escaping.
  f->set_pattern(R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","logger":"%&","msg":"%*"})");
  return f;
}

}  // namespace

std::optional<LogFormat> ParseLogFormat(std::string_view name) {
  if (name == "text") return LogFormat::kText;
  if (name == "json") return LogFormat::kJson;
  return std::nullopt;
}

void EnsureLoggers() {
  std::lock_guard lock(g_mu);
  for (const char* name : kLoggers) {
    if (spdlog::get(name)) continue;
    auto logger = std::make_shared<spdlog::logger>(name, Sink());
    logger->set_level(spdlog::get_level());
    spdlog::register_logger(logger);
  }
}

void SetLogLevel(spdlog::level::level_enum level) {
  EnsureLoggers();
  spdlog::set_level(level);  // every registered logger
}

void SetLogFormat(LogFormat format) {
  EnsureLoggers();
  if (format == LogFormat::kJson) {
    Sink()->set_formatter(JsonFormatter());
  } else {
    Sink()->set_formatter(std::make_unique<spdlog::pattern_formatter>());
  }
}

}  // namespace herald::broker
