#pragma once
// The blog's page, script and style sheet (services/api-gateway/web/),
// compiled into the gateway by embed_web.cmake so that the binary is the
// whole deployment.

#include <optional>
#include <string>
#include <string_view>

namespace herald::services {

// The file's bytes ("index.html", "main.js", "main.css"), or nullopt.
std::optional<std::string_view> WebAsset(const std::string& name);

}  // namespace herald::services
