#pragma once

namespace herald::broker {
// HERALD_VERSION comes from the project() version in the top-level CMakeLists.txt.
inline constexpr const char* kBrokerVersion = HERALD_VERSION;
}
