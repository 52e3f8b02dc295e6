#include "command_tree.h"

#include <algorithm>
#include <numeric>

namespace herald::ctl {

namespace {

std::vector<const CLI::App*> Subcommands(const CLI::App& app) {
  std::vector<const CLI::App*> out;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) out.push_back(sub);
  return out;
}

// A subcommand's own --help and the root's are two options of one name: keep the first.
void AddOptions(const CLI::App& app, std::vector<const CLI::Option*>* out) {
  for (const CLI::Option* opt : app.get_options()) {
    bool known = std::any_of(out->begin(), out->end(),
                             [&](const CLI::Option* o) { return o->get_name() == opt->get_name(); });
    if (opt->nonpositional() && !known) out->push_back(opt);
  }
}

void Walk(const CLI::App& app, const std::string& path, const CLI::App& root, std::vector<CommandNode>* out) {
  CommandNode node{path, app.get_description(), Subcommands(app), {}};
  AddOptions(app, &node.options);
  // Subcommands fall through to the root, so its options work anywhere.
  if (&app != &root) AddOptions(root, &node.options);
  out->push_back(node);
  for (const CLI::App* sub : node.subcommands)
    Walk(*sub, path.empty() ? sub->get_name() : path + " " + sub->get_name(), root, out);
}

// The option named `word` ("--broker", "-y") of `app` or of the root.
const CLI::Option* FindOption(const CLI::App& app, const CLI::App& root, const std::string& word) {
  if (const CLI::Option* opt = app.get_option_no_throw(word)) return opt;
  return root.get_option_no_throw(word);
}

}  // namespace

std::vector<CommandNode> WalkCommands(const CLI::App& root) {
  std::vector<CommandNode> out;
  Walk(root, "", root, &out);
  return out;
}

std::size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  std::iota(row.begin(), row.end(), 0);
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::optional<std::string> UnknownCommandMessage(const CLI::App& root, const std::vector<std::string>& args) {
  const CLI::App* app = &root;
  std::string path = root.get_name().empty() ? "brokerctl" : root.get_name();
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& word = args[i];
    if (word == "--") return std::nullopt;
    if (word.size() > 1 && word[0] == '-') {
      // An option's value is not a command: skip it unless given as --name=VALUE.
      // An unknown option may or may not take one: CLI11's own message names it.
      if (word.find('=') != std::string::npos) continue;
      const CLI::Option* opt = FindOption(*app, root, word);
      if (opt == nullptr) return std::nullopt;
      if (opt->get_items_expected_max() > 0) ++i;
      continue;
    }
    auto subs = Subcommands(*app);
    if (subs.empty()) return std::nullopt;  // the rest are arguments
    auto match = std::find_if(subs.begin(), subs.end(), [&](const CLI::App* s) { return s->check_name(word); });
    if (match != subs.end()) {
      app = *match;
      path += " " + app->get_name();
      continue;
    }
    std::string names, closest;
    std::size_t best = std::string::npos;
    for (const CLI::App* s : subs) {
      names += (names.empty() ? "" : ", ") + s->get_name();
      std::size_t d = EditDistance(word, s->get_name());
      if (d < best) best = d, closest = s->get_name();
    }
    return "unknown command '" + word + "' for '" + path + "'; did you mean '" + closest + "'? (" + path +
           " commands: " + names + ")";
  }
  return std::nullopt;
}

}  // namespace herald::ctl
