#include "broker/security/acl.h"

#include <algorithm>
#include <utility>

#include "schemas/names.h"

namespace herald::broker {

const char* PermissionName(Permission p) {
  switch (p) {
    case Permission::kPublish: return "publish";
    case Permission::kSubscribe: return "subscribe";
    case Permission::kGroup: return "groups";
    case Permission::kAdmin: return "admin";
  }
  return "?";
}

std::optional<NamePattern> NamePattern::Parse(std::string_view text) {
  NamePattern p;
  if (text.ends_with('*')) {
    p.prefix_ = true;
    text.remove_suffix(1);
    // "*" alone is the empty prefix; any other prefix must be a valid name start.
    if (!text.empty() && !wire::IsValidName(text)) return std::nullopt;
  } else if (!wire::IsValidName(text)) {
    return std::nullopt;
  }
  p.text_ = std::string(text);
  return p;
}

std::vector<NamePattern>& Acl::Patterns(Permission p) {
  return const_cast<std::vector<NamePattern>&>(std::as_const(*this).Patterns(p));
}

const std::vector<NamePattern>& Acl::Patterns(Permission p) const {
  switch (p) {
    case Permission::kPublish: return publish_;
    case Permission::kSubscribe: return subscribe_;
    case Permission::kGroup: return groups_;
    case Permission::kAdmin: return admin_;
  }
  return admin_;
}

bool Acl::Allows(Permission p, std::string_view name) const {
  const auto& patterns = Patterns(p);
  return std::any_of(patterns.begin(), patterns.end(), [&](const NamePattern& n) { return n.Matches(name); });
}

bool Acl::AllowsAnyOnTopic(std::string_view topic) const {
  return Allows(Permission::kPublish, topic) || Allows(Permission::kSubscribe, topic) ||
         Allows(Permission::kAdmin, topic);
}

bool Acl::AllowsGroupTopic(std::string_view topic) const {
  return Allows(Permission::kSubscribe, topic) || Allows(Permission::kAdmin, topic);
}

bool Acl::AllowsGroup(GroupAccess access, std::string_view group) const {
  if (Allows(Permission::kAdmin, group)) return true;
  return access == GroupAccess::kDescribe && Allows(Permission::kGroup, group);
}

const char* GroupAccessNeeds(GroupAccess access) {
  return access == GroupAccess::kDescribe ? "groups or admin" : "admin";
}

std::vector<NamePattern> Acl::TopicPatterns() const {
  std::vector<NamePattern> all = publish_;
  all.insert(all.end(), subscribe_.begin(), subscribe_.end());
  all.insert(all.end(), admin_.begin(), admin_.end());
  return all;
}

}  // namespace herald::broker
