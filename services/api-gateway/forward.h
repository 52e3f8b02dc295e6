#pragma once
// Forward: the gateway relays an API request to the service behind it and
// the service's status and JSON body back. A service that cannot be reached
// is 502 upstream_unavailable (and the HealthWatch hears of it at once).

#include <string>

#include <httplib.h>

#include "health_watch.h"

namespace herald::services {

struct Upstream {
  std::string name;     // "post-service"
  std::string address;  // HOST:PORT
};

// Sends req's method and body (and the X-Delete-Token header, if any) to
// `path` on the upstream.
void Forward(const Upstream& upstream, HealthWatch& health, const httplib::Request& req, httplib::Response& res,
             const std::string& path);

}  // namespace herald::services
