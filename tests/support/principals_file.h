#pragma once
// Principals files for brokers under test (brokerd --auth-file): one block per
// principal, its token stored as the broker stores it, as a hash. Header-only:
// its users link herald_tls (schemas/token.h) themselves.

#include <string>

#include "schemas/token.h"

namespace herald::test {

// "sha256:..." as a principals file holds `token`.
inline std::string TokenHash(const std::string& token) {
  return wire::FormatTokenHash(wire::HashToken(token));
}

// One [principals.NAME] block: the hash of `token`, then `rights`, lines such
// as "publish = [\"orders\"]\nadmin = [\"*\"]".
inline std::string PrincipalEntry(const std::string& name, const std::string& token, const std::string& rights) {
  std::string block = "[principals." + name + "]\ntoken = \"" + TokenHash(token) + "\"\n" + rights;
  if (!block.ends_with('\n')) block += '\n';
  return block;
}

}  // namespace herald::test
