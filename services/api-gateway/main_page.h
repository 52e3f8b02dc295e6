#pragma once
#include <string>

namespace herald::services {
// The blog's main page: post cards rendered by a small script from the
// gateway's own API, refreshed every second so counts change without a reload.
const std::string& MainPageHtml();
// Its script (GET /main.js) and style sheet (GET /main.css).
const std::string& MainPageScript();
const std::string& MainPageStyle();
}  // namespace herald::services
