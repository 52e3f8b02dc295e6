// brokerctl completion bash|zsh|fish: a completion script made from the
// command tree as this brokerctl has it (command_tree.h), so a command or
// option added later is completed without anyone editing a script.

#include <iostream>

#include "brokerctl.h"
#include "command_tree.h"
#include "output.h"

namespace herald::ctl {

namespace {

// Long and short names as typed: "--broker", "-y".
std::vector<std::string> OptionWords(const CLI::Option& opt) {
  std::vector<std::string> words;
  for (const auto& n : opt.get_lnames()) words.push_back("--" + n);
  for (const auto& n : opt.get_snames()) words.push_back("-" + n);
  return words;
}

// Words that follow a command: its subcommands, then its options.
std::string Candidates(const CommandNode& node) {
  std::string out;
  auto add = [&](const std::string& w) { out += (out.empty() ? "" : " ") + w; };
  for (const CLI::App* sub : node.subcommands) add(sub->get_name());
  for (const CLI::Option* opt : node.options)
    for (const auto& w : OptionWords(*opt)) add(w);
  return out;
}

// The bash function; zsh runs the same one through bashcompinit. Words are
// read left to right: a word that is a command of the path so far extends it
// (an option's value never is one, so it cannot be mistaken for a command).
std::string BashFunction(const std::vector<CommandNode>& tree) {
  std::string paths, words;
  for (const auto& node : tree) {
    if (!node.path.empty()) paths += (paths.empty() ? "'" : "|'") + node.path + "'";
    words += "    '" + node.path + "') words='" + Candidates(node) + "' ;;\n";
  }
  return "_brokerctl() {\n"
         "  local cur=${COMP_WORDS[COMP_CWORD]} path='' next words i\n"
         "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
         "    next=\"${path:+$path }${COMP_WORDS[i]}\"\n"
         "    case \"$next\" in\n"
         "      " + paths + ") path=$next ;;\n"
         "    esac\n"
         "  done\n"
         "  case \"$path\" in\n" + words +
         "    *) words='' ;;\n"
         "  esac\n"
         "  COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n"
         "}\n"
         "complete -F _brokerctl brokerctl\n";
}

std::string FishQuote(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

std::string FishScript(const std::vector<CommandNode>& tree) {
  std::string paths;
  for (const auto& node : tree)
    if (!node.path.empty()) paths += " " + FishQuote(node.path);
  std::string out =
      "# brokerctl completion fish\n"
      "set -g __brokerctl_paths" + paths + "\n"
      "function __brokerctl_path\n"
      "  set -l path\n"
      "  for w in (commandline -opc)[2..-1]\n"
      "    if contains -- (string join ' ' $path $w) $__brokerctl_paths\n"
      "      set path $path $w\n"
      "    end\n"
      "  end\n"
      "  string join ' ' $path\n"
      "end\n"
      "function __brokerctl_at\n"
      "  set -l path (__brokerctl_path)\n"
      "  test \"$path\" = \"$argv[1]\"\n"
      "end\n"
      "complete -c brokerctl -f\n";
  for (const auto& node : tree) {
    std::string at = "complete -c brokerctl -n " + FishQuote("__brokerctl_at " + FishQuote(node.path));
    for (const CLI::App* sub : node.subcommands)
      out += at + " -a " + FishQuote(sub->get_name()) + " -d " + FishQuote(sub->get_description()) + "\n";
    for (const CLI::Option* opt : node.options) {
      std::string names;
      for (const auto& n : opt->get_lnames()) names += " -l " + n;
      for (const auto& n : opt->get_snames()) names += " -s " + n;
      out += at + names + (opt->get_items_expected_max() > 0 ? " -r" : "") + " -d " +
             FishQuote(opt->get_description()) + "\n";
    }
  }
  return out;
}

}  // namespace

void AddCompletionCommand(CLI::App& app, const GlobalOptions&, int* exit_code) {
  auto shell = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand(
      "completion",
      "print a shell completion script: bash (source it, or put it in "
      "/etc/bash_completion.d/brokerctl), zsh (source it), fish (save as "
      "~/.config/fish/completions/brokerctl.fish)");
  cmd->add_option("SHELL", *shell, "bash, zsh or fish")->required()->check(CLI::IsMember({"bash", "zsh", "fish"}));
  cmd->callback([&app, shell, exit_code] {
    auto tree = WalkCommands(app);
    if (*shell == "bash") {
      std::cout << "# brokerctl completion bash\n" << BashFunction(tree);
    } else if (*shell == "zsh") {
      std::cout << "# brokerctl completion zsh\n"
                   "autoload -U +X bashcompinit && bashcompinit\n"
                << BashFunction(tree);
    } else {
      std::cout << FishScript(tree);
    }
    std::cout << std::flush;
    *exit_code = kOk;
  });
}

}  // namespace herald::ctl
