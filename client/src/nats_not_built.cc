// The NATS backend's place in a libherald built with HERALD_WITH_NATS=OFF
// (no libnats): a nats:// broker URL selects a backend that fails every
// request with errc::backend_not_built, so the caller learns at once why,
// instead of a connect that times out or a link error in their build.

#include "backend.h"

namespace herald::client_detail {

std::unique_ptr<Backend> MakeNatsBackend(ClientOptions, std::vector<std::string>) {
  return MakeFailingBackend(make_error_code(errc::backend_not_built));
}

}  // namespace herald::client_detail
