#pragma once
// Principals: who may connect when auth is on, loaded from a principals file
// (--auth-file), a TOML subset with one table per principal:
//
//   [principals.comment-service]
//   token = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
//   publish = ["comment-created", "comment-deleted"]
//   subscribe = []
//   groups = []
//   admin = ["comment-*"]
//
// The file holds token hashes only (schemas/token.h; `brokerctl token new`
// makes a token and its block). Each token names one principal; Hello
// carries the token, not the name, so there is nothing to guess but the token.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "broker/security/acl.h"
#include "broker/status.h"
#include "schemas/token.h"

namespace herald::broker {

struct Principal {
  std::string name;
  wire::TokenDigest token_hash{};
  Acl acl;
};

class Principals {
 public:
  // Reads and checks the whole file; any error names the file and line.
  static Status Load(const std::string& path, std::unique_ptr<Principals>* out);
  static Status Parse(std::string_view text, const std::string& source, std::unique_ptr<Principals>* out);

  // The principal whose token this is, or nullptr. Compares the token's hash
  // with every principal's, each in constant time and without stopping at a
  // match, so the time taken says nothing about which principal (if any) matched.
  const Principal* Authenticate(std::string_view token) const;
  // The same, for a token already hashed: a reload finds each connection's
  // principal again by the hash of the token it authenticated with.
  const Principal* FindByTokenHash(const wire::TokenDigest& digest) const;

  std::size_t size() const { return principals_.size(); }
  const std::vector<Principal>& all() const { return principals_; }

 private:
  std::vector<Principal> principals_;
};

}  // namespace herald::broker
