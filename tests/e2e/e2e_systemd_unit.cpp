// The shipped systemd unit passes `systemd-analyze verify`, carries the settings issue 5 asks
// for, agrees with its sysusers/tmpfiles companions, and `cmake --install` puts the binary,
// the unit and a service-ready configuration in place.

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "child_process.hpp"
#include "test_media.hpp"

namespace lipsyncd::test {
namespace {

namespace fs = std::filesystem;

void write_text(const fs::path& file, const std::string& text) {
  std::ofstream out(file);
  out << text;
}

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

// Settings of the unit as key -> values (a key may repeat), comments and sections ignored.
std::multimap<std::string, std::string> unit_settings(const std::string& text) {
  std::multimap<std::string, std::string> settings;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#' || line[0] == '[') continue;
    const auto equals = line.find('=');
    if (equals != std::string::npos)
      settings.emplace(line.substr(0, equals), line.substr(equals + 1));
  }
  return settings;
}

std::string setting(const std::multimap<std::string, std::string>& settings,
                    const std::string& key) {
  const auto it = settings.find(key);
  return it == settings.end() ? std::string("<missing>") : it->second;
}

std::optional<fs::path> systemd_analyze() {
  for (const auto* candidate : {"/usr/bin/systemd-analyze", "/bin/systemd-analyze"}) {
    if (fs::exists(candidate)) return fs::path(candidate);
  }
  return std::nullopt;
}

fs::path shipped_unit() {
  return source_dir() / "systemd" / "lipsyncd.service";
}

// Runs `systemd-analyze verify` on a copy of `unit_text` whose ExecStart names `binary`
// (verify insists that the program exists); returns the exit code and what it printed.
std::pair<int, std::string> verify(const std::string& unit_text,
                                   const std::string& installed_binary, const fs::path& binary,
                                   const TempDir& dir) {
  const auto copy = dir / "lipsyncd.service";
  write_text(copy, replace_all(unit_text, "ExecStart=" + installed_binary,
                               "ExecStart=" + binary.string()));
  const auto log = dir / "verify.log";
  const int code = run_to_completion({systemd_analyze()->string(), "verify", copy.string()}, log,
                                     std::chrono::seconds(60));
  return {code, read_text(log)};
}

class SystemdUnit : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(shipped_unit())) << shipped_unit();
    ASSERT_TRUE(fs::exists(bin_dir() / "lipsyncd")) << "build the lipsyncd target first";
  }
};

TEST_F(SystemdUnit, PassesSystemdAnalyzeVerify) {
  if (!systemd_analyze()) GTEST_SKIP() << "systemd-analyze is not installed (Debian: systemd)";
  TempDir dir;
  const auto [code, output] =
      verify(read_text(shipped_unit()), "/usr/bin/lipsyncd", bin_dir() / "lipsyncd", dir);
  EXPECT_EQ(code, 0) << output;
  EXPECT_EQ(output.find("lipsyncd.service"), std::string::npos) << "systemd-analyze complained:\n"
                                                                << output;
}

TEST_F(SystemdUnit, VerifyWouldCatchAMistake) {
  // Proves the check above can fail: a misspelt hardening option is reported.
  if (!systemd_analyze()) GTEST_SKIP() << "systemd-analyze is not installed (Debian: systemd)";
  TempDir dir;
  const auto broken = replace_all(read_text(shipped_unit()), "ProtectSystem=", "ProtectSystm=");
  const auto [code, output] = verify(broken, "/usr/bin/lipsyncd", bin_dir() / "lipsyncd", dir);
  EXPECT_NE(output.find("ProtectSystm"), std::string::npos) << output;
}

TEST_F(SystemdUnit, HasTheServiceSettingsTheDaemonReliesOn) {
  const auto settings = unit_settings(read_text(shipped_unit()));
  EXPECT_EQ(setting(settings, "Type"), "notify");
  EXPECT_EQ(setting(settings, "ExecStart"),
            "/usr/bin/lipsyncd run --config /etc/lipsyncd/lipsyncd.toml");
  EXPECT_EQ(setting(settings, "ExecReload"), "/bin/kill -HUP $MAINPID");
  EXPECT_NE(setting(settings, "WatchdogSec"), "<missing>");
  EXPECT_EQ(setting(settings, "Restart"), "on-failure");
  // A bad configuration, a missing key (78) or a daemon already running on the state folder
  // (75) would only fail again: no restart loop.
  EXPECT_EQ(setting(settings, "RestartPreventExitStatus"), "78 75");
  EXPECT_EQ(setting(settings, "User"), "lipsyncd");
  EXPECT_EQ(setting(settings, "StateDirectory"), "lipsyncd");
  EXPECT_EQ(setting(settings, "ConfigurationDirectory"), "lipsyncd");
  // config.cpp reads $CREDENTIALS_DIRECTORY/fal_key: the credential must have that name.
  EXPECT_EQ(setting(settings, "LoadCredential").rfind("fal_key:", 0), 0u);
  EXPECT_EQ(setting(settings, "NoNewPrivileges"), "yes");
  EXPECT_EQ(setting(settings, "ProtectSystem"), "strict");
  EXPECT_EQ(setting(settings, "ProtectHome"), "yes");
  EXPECT_EQ(setting(settings, "PrivateTmp"), "yes");
  EXPECT_EQ(setting(settings, "ReadWritePaths"), "/srv/lipsyncd");
  EXPECT_EQ(setting(settings, "RestrictAddressFamilies"), "AF_UNIX AF_INET AF_INET6");
  EXPECT_EQ(setting(settings, "SystemCallFilter"), "@system-service");
  // The daemon must get the chance to checkpoint: systemd's stop timeout exceeds the
  // default [daemon] shutdown_timeout_s of 10 s.
  EXPECT_GT(std::stoi(setting(settings, "TimeoutStopSec")), 10);
}

TEST_F(SystemdUnit, SysusersAndTmpfilesMatchTheUnit) {
  const auto sysusers = read_text(source_dir() / "systemd" / "lipsyncd.sysusers");
  const auto tmpfiles = read_text(source_dir() / "systemd" / "lipsyncd.tmpfiles");
  EXPECT_TRUE(std::regex_search(sysusers, std::regex(R"((^|\n)u lipsyncd )"))) << sysusers;
  for (const auto* folder : {"/srv/lipsyncd ", "/srv/lipsyncd/inbox ", "/srv/lipsyncd/outbox ",
                             "/srv/lipsyncd/done ", "/srv/lipsyncd/error "}) {
    EXPECT_TRUE(std::regex_search(
        tmpfiles, std::regex(std::string("(^|\\n)d ") + folder + R"(\s*2770 lipsyncd lipsyncd)")))
        << folder << "\n"
        << tmpfiles;
  }
}

fs::path find_file(const fs::path& root, const std::string& suffix) {
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    const auto path = entry.path().generic_string();
    if (entry.is_regular_file() && path.size() >= suffix.size() &&
        path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0) {
      return entry.path();
    }
  }
  return {};
}

TEST_F(SystemdUnit, CmakeInstallPutsBinaryUnitAndConfigInPlace) {
  TempDir stage;
  const auto build_dir = bin_dir().parent_path();
  const auto log = stage / "install.log";
  ChildOptions options;
  options.env.push_back("DESTDIR=" + (stage / "root").string());
  ASSERT_EQ(run_to_completion({"/usr/bin/env", "cmake", "--install", build_dir.string()}, log,
                              std::chrono::seconds(120), options),
            0)
      << read_text(log);

  const auto root = stage / "root";
  const auto binary = find_file(root, "/bin/lipsyncd");
  const auto unit = find_file(root, "/system/lipsyncd.service");
  const auto config = find_file(root, "/lipsyncd/lipsyncd.toml");
  ASSERT_FALSE(binary.empty()) << read_text(log);
  ASSERT_FALSE(unit.empty()) << "no unit installed: is cmake/Install.cmake included from "
                                "CMakeLists.txt?\n"
                             << read_text(log);
  ASSERT_FALSE(config.empty()) << read_text(log);
  EXPECT_FALSE(find_file(root, "/sysusers.d/lipsyncd.conf").empty());
  EXPECT_FALSE(find_file(root, "/tmpfiles.d/lipsyncd.conf").empty());

  // The installed unit names the installed paths (without DESTDIR).
  const auto installed_binary = "/" + fs::relative(binary, root).generic_string();
  const auto installed_config = "/" + fs::relative(config, root).generic_string();
  const auto unit_text = read_text(unit);
  const auto settings = unit_settings(unit_text);
  EXPECT_EQ(setting(settings, "ExecStart"), installed_binary + " run --config " + installed_config);

  // The installed configuration points at the service's folders, not beside itself.
  const auto config_text = read_text(config);
  EXPECT_NE(config_text.find("inbox = \"/srv/lipsyncd/inbox\""), std::string::npos) << config_text;
  EXPECT_NE(config_text.find("state = \"/var/lib/lipsyncd\""), std::string::npos) << config_text;

  if (systemd_analyze()) {
    TempDir dir;
    const auto [code, output] = verify(unit_text, installed_binary, binary, dir);
    EXPECT_EQ(code, 0) << output;
    EXPECT_EQ(output.find("lipsyncd.service"), std::string::npos) << output;
  }
}

}  // namespace
}  // namespace lipsyncd::test
