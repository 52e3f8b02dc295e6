#pragma once
// Acl: what one principal may do, as name patterns per permission.
//
//   publish   topics it may publish to
//   subscribe topics it may read (Subscribe, Fetch)
//   groups    consumer groups it may join and describe
//   admin     topics and groups it may create, alter, purge, reset and delete;
//             the broker status needs admin "*"
//
// A group reads one topic, so every group operation needs a right on the
// topic as well as on the group (AllowsGroupOf): without it, a principal
// trusted with group "g*" on one topic could reset or read the groups of
// every topic.
//
// A pattern is a name ("comment-created"), a prefix ending in '*'
// ("comment-*", any name that starts with "comment-"), or "*" (every name).
// Nothing is allowed that no pattern matches.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace herald::broker {

enum class Permission { kPublish, kSubscribe, kGroup, kAdmin };

// What a group operation does to the group: see it (DescribeGroup, the groups
// a TopicInfo lists), or change it (ResetGroup, DeleteGroup).
enum class GroupAccess { kDescribe, kAdminister };

const char* PermissionName(Permission p);
// The permissions that allow `access` on a group, for messages ("groups or admin").
const char* GroupAccessNeeds(GroupAccess access);

class NamePattern {
 public:
  // nullopt unless `text` is a valid name, a valid name prefix followed by
  // '*', or "*".
  static std::optional<NamePattern> Parse(std::string_view text);
  // "*": every name.
  static NamePattern Everything() {
    NamePattern p;
    p.prefix_ = true;
    return p;
  }

  bool Matches(std::string_view name) const {
    return prefix_ ? name.starts_with(text_) : name == text_;
  }
  // As written in the file ("comment-*").
  std::string ToString() const { return prefix_ ? text_ + "*" : text_; }
  // The name, or the prefix without its '*' ("" for "*").
  const std::string& text() const { return text_; }
  bool is_prefix() const { return prefix_; }

 private:
  std::string text_;     // the name, or the prefix without its '*'
  bool prefix_ = false;
};

class Acl {
 public:
  void Add(Permission p, NamePattern pattern) { Patterns(p).push_back(std::move(pattern)); }

  bool Allows(Permission p, std::string_view name) const;
  // Any permission at all on this topic: enough to see it in lists and describe it.
  bool AllowsAnyOnTopic(std::string_view topic) const;
  // The topic side of a group operation: subscribe (the principal reads the
  // topic) or admin on the topic.
  bool AllowsGroupTopic(std::string_view topic) const;
  // The group side: groups or admin on the group to describe it, admin to change it.
  bool AllowsGroup(GroupAccess access, std::string_view group) const;
  // Both sides: whether this principal may do `access` on `group` of `topic`.
  bool AllowsGroupOf(GroupAccess access, std::string_view topic, std::string_view group) const {
    return AllowsGroupTopic(topic) && AllowsGroup(access, group);
  }
  // The patterns AllowsAnyOnTopic looks at (publish, subscribe, admin), so a
  // listing can visit just the topics they match.
  std::vector<NamePattern> TopicPatterns() const;

 private:
  std::vector<NamePattern>& Patterns(Permission p);
  const std::vector<NamePattern>& Patterns(Permission p) const;

  std::vector<NamePattern> publish_, subscribe_, groups_, admin_;
};

}  // namespace herald::broker
