#include "forward.h"

#include "json_reply.h"
#include "service.h"

namespace herald::services {

void Forward(const Upstream& upstream, HealthWatch& health, const httplib::Request& req, httplib::Response& res,
             const std::string& path) {
  httplib::Client c(upstream.address.c_str());
  c.set_connection_timeout(2);
  c.set_read_timeout(10);
  httplib::Headers headers;
  if (req.has_header(kDeleteTokenHeader)) headers.emplace(kDeleteTokenHeader, req.get_header_value(kDeleteTokenHeader));
  httplib::Result r = req.method == "GET"    ? c.Get(path.c_str(), headers)
                      : req.method == "POST" ? c.Post(path.c_str(), headers, req.body, "application/json")
                                             : c.Delete(path.c_str(), headers);
  health.Report(upstream.name, static_cast<bool>(r));
  if (!r) return ReplyError(res, 502, "upstream_unavailable", upstream.name + " is unavailable");
  res.status = r->status;
  if (r->has_header("Retry-After")) res.set_header("Retry-After", r->get_header_value("Retry-After"));
  if (!r->body.empty()) res.set_content(r->body, "application/json");
}

}  // namespace herald::services
