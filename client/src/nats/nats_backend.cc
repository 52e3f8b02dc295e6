// The NATS JetStream backend. Not implemented yet: a "nats://" broker URL
// gets a backend that answers every request with errc::not_supported.

#include "backend.h"

namespace herald::client_detail {

std::unique_ptr<Backend> MakeNatsBackend(ClientOptions, std::vector<std::string>) {
  return MakeFailingBackend(make_error_code(errc::not_supported));
}

}  // namespace herald::client_detail
