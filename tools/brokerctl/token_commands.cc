// brokerctl token new | hash: access tokens for brokerd --auth-file. They run
// offline: a token is made and hashed here, and only its hash goes to the
// broker's principals file (schemas/token.h says why a plain SHA-256 does).

#include <iostream>
#include <memory>
#include <string>

#include "brokerctl.h"
#include "output.h"
#include "schemas/names.h"
#include "schemas/token.h"

namespace herald::ctl {

namespace {

// The principals-file entry brokerd reads (broker/security/principals.h),
// with every ACL list empty: the operator grants what the principal needs.
std::string PrincipalEntry(const std::string& name, const std::string& hash) {
  return "[principals." + name + "]\n" +
         "token = \"" + hash + "\"\n"
         "publish = []\n"
         "subscribe = []\n"
         "groups = []\n"
         "admin = []\n";
}

int NewToken(const GlobalOptions& global, const std::string& principal) {
  if (!principal.empty() && !wire::IsValidName(principal)) {
    return Invalid("'" + principal + "' is not a principal name ([A-Za-z0-9._-], 1 to 249 characters)");
  }
  std::string token = wire::NewToken();
  std::string hash = wire::FormatTokenHash(wire::HashToken(token));
  if (global.json) {
    Json doc{{"token", token}, {"hash", hash}};
    if (!principal.empty()) doc["principal"] = principal;
    PrintJson(doc);
    return kOk;
  }
  PrintFields(std::cout, {{"token", token}, {"hash", hash}});
  if (!principal.empty()) {
    std::cout << "\n# Give the token to " << principal
              << " (e.g. as HERALD_TOKEN); the broker's --auth-file keeps only the hash:\n"
              << PrincipalEntry(principal, hash);
  }
  return kOk;
}

int HashStdin(const GlobalOptions& global) {
  std::string token;
  std::getline(std::cin, token);
  // A token pasted or piped with `echo` arrives with a line end; tokens hold no spaces.
  while (!token.empty() && (token.back() == '\r' || token.back() == ' ' || token.back() == '\t')) {
    token.pop_back();
  }
  if (token.empty()) return Invalid("no token on stdin");
  std::string hash = wire::FormatTokenHash(wire::HashToken(token));
  if (global.json) {
    PrintJson(Json{{"hash", hash}});
  } else {
    std::cout << hash << "\n";
  }
  return kOk;
}

}  // namespace

void AddTokenCommands(CLI::App& app, const GlobalOptions& global, int* exit_code) {
  auto* token = app.add_subcommand("token", "make access tokens for brokerd --auth-file (offline)");
  token->require_subcommand(1);

  auto* make = token->add_subcommand(
      "new", "print a fresh random token and its hash; with --principal, the principals-file entry too");
  auto principal = std::make_shared<std::string>();
  make->add_option("--principal", *principal, "the principal's name, for a ready-to-paste entry");
  make->callback([&global, exit_code, principal] { *exit_code = NewToken(global, *principal); });

  auto* hash = token->add_subcommand(
      "hash", "read a token on stdin and print its hash (\"sha256:...\", what --auth-file holds)");
  hash->callback([&global, exit_code] { *exit_code = HashStdin(global); });
}

}  // namespace herald::ctl
