#pragma once
#include <string>

namespace herald::services {
// The blog's main page: post cards rendered by a small script from the
// gateway's own API, refreshed every second so counts change without a reload.
const std::string& MainPageHtml();
}  // namespace herald::services
