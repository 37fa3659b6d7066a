// The man pages cannot drift from the code: lipsyncd.toml(5) documents exactly the keys the
// configuration parser accepts, each with the default the parser really has, and so does
// config/lipsyncd.toml; lipsyncd(8) documents every command and option `--help` lists. Both
// pages render without a warning from groff (what lintian checks in the package).

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "lipsyncd/config/config.hpp"
#include "package_test_support.hpp"

namespace lipsyncd::test {
namespace {

namespace fs = std::filesystem;

fs::path man_page(const std::string& name) {
  return source_dir() / "man" / name;
}

// One key of lipsyncd.toml(5): a ".TP" tag line `\fBkey\fR = default` under ".SS [section]".
struct KeyEntry {
  std::string section;
  std::string key;
  std::string default_value;  // TOML, as the page shows it
  std::string meaning;        // the paragraph after the tag
  std::string name() const { return section + "." + key; }
};

std::vector<KeyEntry> documented_keys() {
  std::vector<KeyEntry> entries;
  std::istringstream lines(read_text(man_page("lipsyncd.toml.5")));
  const std::regex section_line(R"(^\.SS \[([a-z_]+)\]$)");
  const std::regex key_line(R"(^\\fB([a-z_0-9]+)\\fR = (.+)$)");
  std::string section;
  std::string previous;
  bool in_entry = false;  // between a key's tag line and the next paragraph or heading
  for (std::string line; std::getline(lines, line); previous = line) {
    std::smatch match;
    if (std::regex_match(line, match, section_line)) {
      section = match[1];
    } else if (line.rfind(".S", 0) == 0) {
      section.clear();
    }
    if (previous == ".TP" && !section.empty() && std::regex_match(line, match, key_line)) {
      entries.push_back({section, match[1], unroff(match[2]), {}});
      in_entry = true;
    } else if (std::regex_search(line, std::regex(R"(^\.(TP|SS|SH|PP|RS))"))) {
      in_entry = false;
    } else if (in_entry && line.rfind(".", 0) != 0) {
      entries.back().meaning += unroff(line) + " ";
    }
  }
  return entries;
}

std::set<std::string> sections_of(const std::set<std::string>& keys) {
  std::set<std::string> sections;
  for (const auto& key : keys) sections.insert(key.substr(0, key.find('.')));
  return sections;
}

// Every section of the two configurations holds the same settings.
void expect_same_settings(const Config& a, const Config& b, const std::string& context) {
  EXPECT_TRUE(a.paths == b.paths) << context << ": [paths] differs";
  EXPECT_TRUE(a.store == b.store) << context << ": [store] differs";
  EXPECT_TRUE(a.fleet == b.fleet) << context << ": [fleet] differs";
  EXPECT_TRUE(a.fal == b.fal) << context << ": [fal] differs";
  EXPECT_TRUE(a.media == b.media) << context << ": [media] differs";
  EXPECT_TRUE(a.longform == b.longform) << context << ": [longform] differs";
  EXPECT_TRUE(a.face == b.face) << context << ": [face] differs";
  EXPECT_TRUE(a.policy == b.policy) << context << ": [policy] differs";
  EXPECT_TRUE(a.budget == b.budget) << context << ": [budget] differs";
  EXPECT_TRUE(a.intake == b.intake) << context << ": [intake] differs";
  EXPECT_TRUE(a.daemon == b.daemon) << context << ": [daemon] differs";
  EXPECT_TRUE(a.log == b.log) << context << ": [log] differs";
  EXPECT_TRUE(a.metrics == b.metrics) << context << ": [metrics] differs";
  EXPECT_EQ(a.prices.size(), b.prices.size()) << context << ": [prices] differs";
}

TEST(ConfigManPage, DocumentsExactlyTheKeysTheParserAccepts) {
  const std::set<std::string> accepted = accepted_keys();
  ASSERT_GE(accepted.size(), 50u) << "accepted_keys() lost its keys";
  std::set<std::string> documented;
  for (const auto& entry : documented_keys()) {
    EXPECT_TRUE(documented.insert(entry.name()).second) << entry.name() << " is documented twice";
    EXPECT_FALSE(entry.meaning.empty()) << entry.name() << " has no explanation";
  }
  std::set<std::string> missing;
  std::set<std::string> unknown;
  for (const auto& key : accepted) {
    if (!documented.contains(key)) missing.insert(key);
  }
  for (const auto& key : documented) {
    if (!accepted.contains(key)) unknown.insert(key);
  }
  EXPECT_TRUE(missing.empty()) << "keys the parser accepts but man/lipsyncd.toml.5 lacks: "
                               << join(missing);
  EXPECT_TRUE(unknown.empty()) << "keys man/lipsyncd.toml.5 documents but the parser refuses: "
                               << join(unknown);
}

TEST(ConfigManPage, EveryDefaultIsTheBuiltInDefault) {
  const fs::path base = "/base";
  const Config defaults = parse_config("", base, {});
  const auto entries = documented_keys();
  ASSERT_FALSE(entries.empty());
  for (const auto& entry : entries) {
    const std::string toml =
        "[" + entry.section + "]\n" + entry.key + " = " + entry.default_value + "\n";
    try {
      const Config parsed = parse_config(toml, base, {});
      EXPECT_TRUE(parsed.file_keys.contains(entry.name())) << toml;
      expect_same_settings(parsed, defaults, "man page default " + toml);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "the man page's default does not parse: " << toml << e.what();
    }
  }
}

TEST(ConfigManPage, CatchesAWrongDefault) {
  // Proves the comparison above can fail: a default the code does not have is noticed.
  const Config defaults = parse_config("", "/base", {});
  const Config wrong = parse_config("[fal]\nmax_in_flight = 3\n", "/base", {});
  EXPECT_FALSE(wrong.fal == defaults.fal);
  EXPECT_TRUE(defaults.fal == parse_config("[fal]\nmax_in_flight = 2\n", "/base", {}).fal);
}

TEST(ConfigManPage, HasASubsectionForEverySection) {
  const std::string page = read_text(man_page("lipsyncd.toml.5"));
  auto sections = sections_of(accepted_keys());
  sections.insert("prices");
  for (const auto& section : sections) {
    EXPECT_NE(page.find("\n.SS [" + section + "]\n"), std::string::npos)
        << "man/lipsyncd.toml.5 has no .SS [" << section << "]";
  }
}

// section -> the text of that [section] of a TOML file.
std::map<std::string, std::string> toml_sections(const std::string& text) {
  std::map<std::string, std::string> sections;
  std::istringstream lines(text);
  std::string current;
  const std::regex header(R"(^\[([a-z_]+)\]\s*$)");
  for (std::string line; std::getline(lines, line);) {
    std::smatch match;
    if (std::regex_match(line, match, header)) {
      current = match[1];
    } else {
      sections[current] += line + "\n";
    }
  }
  return sections;
}

TEST(ExampleConfig, SetsEveryKeyTheParserAcceptsToItsDefault) {
  const fs::path file = source_dir() / "config" / "lipsyncd.toml";
  const auto sections = toml_sections(read_text(file));
  // Keys accepted only so that old files still load ("The old name of ...", "Retired: ...")
  // need not be in the example; every other key is set there, or shown commented out when it
  // has no useful default ("# key = example").
  std::set<std::string> legacy;
  for (const auto& entry : documented_keys()) {
    if (entry.meaning.find("The old name of") != std::string::npos ||
        entry.meaning.rfind("Retired", 0) == 0) {
      legacy.insert(entry.name());
    }
  }
  for (const auto& key : accepted_keys()) {
    const auto dot = key.find('.');
    const std::string section = key.substr(0, dot);
    const std::string name = key.substr(dot + 1);
    const auto it = sections.find(section);
    ASSERT_NE(it, sections.end()) << "config/lipsyncd.toml has no [" << section << "]";
    const std::regex set_line("(^|\\n)(# ?)?" + name + " = ");
    if (!legacy.contains(key)) {
      EXPECT_TRUE(std::regex_search(it->second, set_line))
          << "config/lipsyncd.toml does not show " << key << " (as `" << name << " = ...`)";
    }
  }
  const Config example = load_config(file, {});
  expect_same_settings(example, parse_config("", file.parent_path(), {}),
                       "config/lipsyncd.toml against the built-in defaults");
}

// OPTIONS of lipsyncd(8): subsection title -> its text, as a reader sees it.
std::map<std::string, std::string> option_subsections(const std::string& page) {
  std::map<std::string, std::string> subsections;
  std::istringstream lines(page);
  bool in_options = false;
  std::string title;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(".SH ", 0) == 0) {
      in_options = line == ".SH OPTIONS";
    } else if (in_options && line.rfind(".SS ", 0) == 0) {
      title = line.substr(4);
    } else if (in_options && !title.empty()) {
      subsections[title] += unroff(line) + "\n";
    }
  }
  return subsections;
}

bool names_command(const std::string& title, const std::string& command) {
  return title == "Every command" ||
         std::regex_search(title, std::regex("(^|[ ,])" + command + "([ ,]|$)"));
}

TEST(CommandManPage, DocumentsEveryCommandAndOptionTheHelpLists) {
  const std::string page = read_text(man_page("lipsyncd.8"));
  const auto commands = help_commands();
  ASSERT_GE(commands.size(), 7u) << "lipsyncd --help lists too few commands: " << join(commands);
  const auto subsections = option_subsections(page);
  ASSERT_FALSE(subsections.empty()) << "lipsyncd.8 has no .SH OPTIONS with .SS subsections";
  for (const auto& command : commands) {
    // A ".TP" entry in COMMANDS: `.B run` or `.BI retry " id"`.
    EXPECT_TRUE(std::regex_search(page, std::regex("\\n\\.BI? " + command + "( |\\n)")))
        << "lipsyncd.8 has no entry for the command " << command;
    for (const auto& option : help_options({command})) {
      const std::regex word("(^|[^-a-z])" + option + "([^-a-z]|$)");
      bool documented = false;
      for (const auto& [title, text] : subsections) {
        if (names_command(title, command) && std::regex_search(text, word)) documented = true;
      }
      EXPECT_TRUE(documented) << "lipsyncd.8 does not document " << option << " of " << command
                              << " under OPTIONS (in a .SS naming " << command << ")";
    }
  }
  for (const auto& option : help_options({})) {
    EXPECT_TRUE(subsections.contains("Every command") &&
                subsections.at("Every command").find(option) != std::string::npos)
        << "lipsyncd.8 does not document the global option " << option;
  }
}

TEST(CommandManPage, HasTheSectionsOperatorsLookFor) {
  const std::string page = read_text(man_page("lipsyncd.8"));
  for (const auto* heading : {"NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "OPTIONS",
                              "EXIT STATUS", "SIGNALS", "ENVIRONMENT", "FILES", "SEE ALSO"}) {
    EXPECT_NE(page.find(std::string("\n.SH ") + heading + "\n"), std::string::npos) << heading;
  }
  // The exit codes main.cpp and the unit rely on, and the signals the daemon handles.
  for (const auto* text : {".B 75", ".B 78", ".B SIGHUP", "SIGTERM", "FAL_KEY\n"}) {
    EXPECT_NE(page.find(text), std::string::npos) << text;
  }
}

// groff's warnings (-ww) for one page; empty when it renders cleanly.
std::string groff_warnings(const fs::path& page) {
  TempDir dir;
  const auto log = dir / "groff.log";
  ChildOptions options;
  options.env.push_back("LC_ALL=C.UTF-8");
  const int code =
      run_to_completion({"/usr/bin/groff", "-man", "-Tutf8", "-ww", "-z", page.string()}, log,
                        std::chrono::seconds(30), options);
  EXPECT_EQ(code, 0) << read_text(log);
  return read_text(log);
}

TEST(ManPages, RenderWithoutWarnings) {
  ASSERT_TRUE(fs::exists("/usr/bin/groff")) << "groff is missing (Debian: groff-base)";
  for (const auto* name : {"lipsyncd.8", "lipsyncd.toml.5"}) {
    EXPECT_EQ(groff_warnings(man_page(name)), "") << name;
  }
}

TEST(ManPages, TheRenderCheckCatchesAMistake) {
  TempDir dir;
  const auto broken = dir / "broken.8";
  std::ofstream(broken) << read_text(man_page("lipsyncd.8")) << ".BOGUS macro\n\\fQ\n";
  EXPECT_NE(groff_warnings(broken), "");
}

}  // namespace
}  // namespace lipsyncd::test
