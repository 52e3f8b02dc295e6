#pragma once
// One sample of a brokerd's /metrics page. Header-only: its users link
// cpp-httplib themselves (PkgConfig::HTTPLIB), as herald_test_support does not.

#include <string>

#include <httplib.h>

#include "tests/support/server_process.h"

namespace herald::test {

// The value of the unlabelled sample `name` of a broker started with
// --metrics-listen, or -1 if the page or the sample is missing.
inline double MetricSample(const ServerProcess& broker, const std::string& name) {
  // The metrics port is in the log line "metrics on http://127.0.0.1:PORT/metrics".
  std::string log = broker.LogTail(256 * 1024);
  auto at = log.find("metrics on http://");
  if (at == std::string::npos) return -1;
  std::string url = log.substr(at + 18, log.find("/metrics", at) - at - 18);
  httplib::Client http(url.c_str());
  auto r = http.Get("/metrics");
  if (!r || r->status != 200) return -1;
  auto line = r->body.find("\n" + name + " ");
  if (line == std::string::npos) return -1;
  return std::stod(r->body.substr(line + name.size() + 2));
}

}  // namespace herald::test
