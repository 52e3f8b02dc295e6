#pragma once
#include <cstddef>
#include <string_view>

namespace herald::wire {

inline constexpr std::size_t kMaxNameLength = 249;

// Topic and group names: [A-Za-z0-9._-]{1,249}. They appear in storage keys and
// file-system-like contexts, so the alphabet is kept small on purpose.
bool IsValidName(std::string_view name);

}  // namespace herald::wire
