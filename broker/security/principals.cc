#include "broker/security/principals.h"

#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "schemas/names.h"

namespace herald::broker {

namespace {

constexpr std::string_view kSection = "principals.";

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Drops a '#' comment that is not inside a string.
std::string_view StripComment(std::string_view line) {
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '"') quoted = !quoted;
    if (line[i] == '#' && !quoted) return line.substr(0, i);
  }
  return line;
}

// Parses `"text"` (no escapes: names, patterns and hashes need none).
bool ParseString(std::string_view value, std::string* out) {
  value = Trim(value);
  if (value.size() < 2 || value.front() != '"' || value.back() != '"') return false;
  value = value.substr(1, value.size() - 2);
  if (value.find_first_of("\"\\") != std::string_view::npos) return false;
  *out = std::string(value);
  return true;
}

// Parses `["a", "b"]`.
bool ParseStringArray(std::string_view value, std::vector<std::string>* out) {
  value = Trim(value);
  if (value.size() < 2 || value.front() != '[' || value.back() != ']') return false;
  value = Trim(value.substr(1, value.size() - 2));
  out->clear();
  while (!value.empty()) {
    std::size_t comma = value.find(',');
    std::string item;
    if (!ParseString(value.substr(0, comma), &item)) return false;
    out->push_back(std::move(item));
    if (comma == std::string_view::npos) break;
    value = Trim(value.substr(comma + 1));  // a trailing comma is allowed, as in TOML
  }
  return true;
}

class Parser {
 public:
  Parser(std::string source) : source_(std::move(source)) {}

  Status Error(int line, const std::string& what) const {
    return {wire::ErrorCode::InvalidArgument, fmt::format("{}:{}: {}", source_, line, what)};
  }

  Status Run(std::string_view text, std::vector<Principal>* out) {
    int line_no = 0;
    std::string pending;  // an array continued over several lines
    int pending_line = 0;
    std::size_t pos = 0;
    while (pos <= text.size()) {
      std::size_t end = text.find('\n', pos);
      if (end == std::string_view::npos) end = text.size();
      std::string_view line = Trim(StripComment(text.substr(pos, end - pos)));
      pos = end + 1;
      ++line_no;
      if (!pending.empty()) {
        pending += ' ';
        pending += line;
        if (line.find(']') == std::string_view::npos) continue;
        Status s = Assignment(pending_line, pending, out);
        pending.clear();
        if (!s.ok()) return s;
        continue;
      }
      if (line.empty()) continue;
      if (line.front() == '[') {
        Status s = Section(line_no, line, out);
        if (!s.ok()) return s;
        continue;
      }
      std::size_t eq = line.find('=');
      if (eq != std::string_view::npos && Trim(line.substr(eq + 1)).starts_with('[') &&
          line.find(']') == std::string_view::npos) {
        pending = std::string(line);
        pending_line = line_no;
        continue;
      }
      Status s = Assignment(line_no, line, out);
      if (!s.ok()) return s;
    }
    if (!pending.empty()) return Error(pending_line, "an array is not closed with ']'");
    return Finish(line_no, out);
  }

 private:
  Status Section(int line, std::string_view text, std::vector<Principal>* out) {
    Status s = Finish(line, out);
    if (!s.ok()) return s;
    if (text.back() != ']') return Error(line, "a section header must end with ']'");
    std::string_view name = Trim(text.substr(1, text.size() - 2));
    if (!name.starts_with(kSection)) {
      return Error(line, fmt::format("unknown section [{}]; principals are [principals.NAME]", name));
    }
    name.remove_prefix(kSection.size());
    if (!wire::IsValidName(name)) {
      return Error(line, fmt::format("'{}' is not a principal name ([A-Za-z0-9._-], 1 to 249)", name));
    }
    if (!names_.insert(std::string(name)).second) {
      return Error(line, fmt::format("principal '{}' appears twice", name));
    }
    out->push_back(Principal{std::string(name), {}, {}});
    has_token_ = false;
    section_line_ = line;
    return Status::Ok();
  }

  Status Assignment(int line, std::string_view text, std::vector<Principal>* out) {
    std::size_t eq = text.find('=');
    if (eq == std::string_view::npos) return Error(line, "expected key = value");
    if (out->empty()) return Error(line, "a key before the first [principals.NAME] section");
    std::string_view key = Trim(text.substr(0, eq));
    std::string_view value = Trim(text.substr(eq + 1));
    Principal& p = out->back();
    if (key == "token") {
      std::string hash;
      if (!ParseString(value, &hash)) return Error(line, "token must be a quoted string");
      auto digest = wire::ParseTokenHash(hash);
      if (!digest) {
        return Error(line, "token must be \"sha256:\" and 64 hex digits, the hash of the token "
                           "(brokerctl token new prints one), never the token itself");
      }
      if (!hashes_.insert(wire::FormatTokenHash(*digest)).second) {
        return Error(line, "this token hash belongs to another principal too");
      }
      p.token_hash = *digest;
      has_token_ = true;
      return Status::Ok();
    }
    Permission permission;
    if (key == "publish") permission = Permission::kPublish;
    else if (key == "subscribe") permission = Permission::kSubscribe;
    else if (key == "groups") permission = Permission::kGroup;
    else if (key == "admin") permission = Permission::kAdmin;
    else return Error(line, fmt::format("unknown key '{}' (token, publish, subscribe, groups, admin)", key));
    std::vector<std::string> patterns;
    if (!ParseStringArray(value, &patterns)) {
      return Error(line, fmt::format("{} must be a list of quoted patterns, e.g. [\"orders\", \"audit-*\"]", key));
    }
    for (const auto& text_pattern : patterns) {
      auto pattern = NamePattern::Parse(text_pattern);
      if (!pattern) {
        return Error(line, fmt::format("'{}' is not a pattern (a name, a name prefix ending in '*', or '*')",
                                       text_pattern));
      }
      p.acl.Add(permission, std::move(*pattern));
    }
    return Status::Ok();
  }

  // The section that just ended must have had its token.
  Status Finish(int line, const std::vector<Principal>* out) const {
    if (!out->empty() && !has_token_) {
      return Error(section_line_ ? section_line_ : line,
                   fmt::format("principal '{}' has no token", out->back().name));
    }
    return Status::Ok();
  }

  std::string source_;
  std::set<std::string> names_;
  std::set<std::string> hashes_;
  bool has_token_ = false;
  int section_line_ = 0;
};

}  // namespace

Status Principals::Parse(std::string_view text, const std::string& source, std::unique_ptr<Principals>* out) {
  auto principals = std::make_unique<Principals>();
  Status s = Parser(source).Run(text, &principals->principals_);
  if (!s.ok()) return s;
  *out = std::move(principals);
  return Status::Ok();
}

Status Principals::Load(const std::string& path, std::unique_ptr<Principals>* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {wire::ErrorCode::InvalidArgument, fmt::format("cannot read the auth file '{}'", path)};
  std::stringstream text;
  text << in.rdbuf();
  return Parse(text.str(), path, out);
}

const Principal* Principals::Authenticate(std::string_view token) const {
  return FindByTokenHash(wire::HashToken(token));
}

const Principal* Principals::FindByTokenHash(const wire::TokenDigest& digest) const {
  const Principal* match = nullptr;
  for (const Principal& p : principals_) {
    // No early exit: every principal costs the same comparison.
    if (wire::DigestsEqual(digest, p.token_hash)) match = &p;
  }
  return match;
}

}  // namespace herald::broker
