#pragma once
// What the man page and completion tests share: reading lipsyncd's --help, and roff as text.

#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "child_process.hpp"
#include "test_media.hpp"

namespace lipsyncd::test {

// `lipsyncd ARGS... --help` as CLI11 prints it (stdout and stderr together).
inline std::string help_text(const std::vector<std::string>& args) {
  TempDir dir;
  std::vector<std::string> argv{(bin_dir() / "lipsyncd").string()};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back("--help");
  const auto log = dir / "help.txt";
  EXPECT_EQ(run_to_completion(argv, log, std::chrono::seconds(30)), 0) << read_text(log);
  return read_text(log);
}

// The lines of one "Heading:" block of a CLI11 help text ("Options", "Subcommands", ...):
// its entries are indented by exactly two spaces.
inline std::vector<std::string> help_block(const std::string& help, const std::string& heading) {
  std::vector<std::string> entries;
  std::istringstream lines(help);
  bool inside = false;
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty() && line[0] != ' ') {
      std::string lower = line;
      for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string wanted = heading + ":";
      for (auto& c : wanted) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      inside = lower.rfind(wanted, 0) == 0;
      continue;
    }
    if (inside && line.size() > 2 && line.compare(0, 2, "  ") == 0 && line[2] != ' ') {
      entries.push_back(line.substr(2));
    }
  }
  return entries;
}

// The commands `lipsyncd --help` lists.
inline std::set<std::string> help_commands() {
  std::set<std::string> commands;
  for (const auto& entry : help_block(help_text({}), "Subcommands")) {
    commands.insert(entry.substr(0, entry.find(' ')));
  }
  return commands;
}

// The option names (-c, --config, ...) `lipsyncd ARGS --help` lists.
inline std::set<std::string> help_options(const std::vector<std::string>& args) {
  std::set<std::string> options;
  for (const auto& entry : help_block(help_text(args), "Options")) {
    if (entry[0] != '-') continue;
    std::istringstream names(entry.substr(0, entry.find(' ')));
    for (std::string name; std::getline(names, name, ',');) options.insert(name);
  }
  return options;
}

// roff source as the text a reader sees: escapes for dashes, quotes and fonts resolved.
inline std::string unroff(std::string text) {
  static const std::vector<std::pair<std::string, std::string>> kEscapes = {
      {"\\-", "-"}, {"\\(dq", "\""}, {"\\(mu", "x"}, {"\\fB", ""}, {"\\fI", ""},
      {"\\fR", ""}, {"\\fP", ""},    {"\\&", ""},    {"\\e", "\\"}};
  for (const auto& [from, to] : kEscapes) {
    for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at)) {
      text.replace(at, from.size(), to);
      at += to.size();
    }
  }
  return text;
}

inline std::string join(const std::set<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : " ") + item;
  return out;
}

}  // namespace lipsyncd::test
