#pragma once
// brokerctl's CLI11 command tree, read at run time: what completion scripts
// offer and what an unknown command is compared with, so that neither can
// miss a command added later.

#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace herald::ctl {

// One command of the tree: its words ("" for brokerctl itself, "topic create")
// and what may follow it.
struct CommandNode {
  std::string path;
  std::string description;
  std::vector<const CLI::App*> subcommands;
  std::vector<const CLI::Option*> options;  // its own and the global ones, named (not positional)
};

// Every command, the root first, parents before children.
std::vector<CommandNode> WalkCommands(const CLI::App& root);

// Edits (insert, delete, replace a character) that turn `a` into `b`.
std::size_t EditDistance(const std::string& a, const std::string& b);

// If `args` (argv without the program name) give a command a word that is
// none of its subcommands, e.g. `topic frob`: the message for it, naming the
// closest subcommand. nullopt if every command word is known.
std::optional<std::string> UnknownCommandMessage(const CLI::App& root, const std::vector<std::string>& args);

}  // namespace herald::ctl
