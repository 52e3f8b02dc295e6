#pragma once
// A service's start-up against the broker: the topics it uses. Apart from
// service.cc, whose request parsing the JSON fuzzer compiles without the SDK.

#include <initializer_list>
#include <string>

#include "herald/client.h"

namespace herald::services {

// Creates the topics a service uses (idempotent). Under least privilege the
// service may not create topics (NotAuthorized): an operator made them, and
// that is not an error. False on any other error, to be retried.
bool EnsureTopics(Client& client, std::initializer_list<const char*> topics, const std::string& service);

}  // namespace herald::services
