// Operating the daemon (ctest label `e2e-reliability-operations`, issue 10 cases 6, 8 and 9):
// one daemon per state folder, reloads that cannot silently drop settings, a log level that
// really changes, the exit code of a missing key, and status lines that say what they mean.

#include <gtest/gtest.h>
#include <signal.h>

#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

#include "daemon_test.hpp"
#include "small_pair.hpp"

namespace lipsyncd::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

class OperationsE2E : public DaemonTest {
 protected:
  void SetUp() override {
    DaemonTest::SetUp();
    pair = make_small_pair(dir / "small");
    settings["intake"]["duplicate_window_h"] = "0";  // the same small pair, paid each time
  }

  void drop_pair(const std::string& stem) {
    drop_file(pair.video, stem + ".mp4");
    drop_file(pair.audio, stem + ".wav");
  }

  // `lipsyncd run` on the fixture's configuration (or `config`), as a second process.
  std::unique_ptr<ChildProcess> start_second_daemon(const std::string& log_name,
                                                    std::vector<std::string> env,
                                                    const fs::path& config = {}) {
    return std::make_unique<ChildProcess>(
        std::vector<std::string>{(bin_dir() / "lipsyncd").string(), "run", "--config",
                                 (config.empty() ? config_file : config).string()},
        dir / log_name,
        ChildOptions{std::move(env),
                     {"NOTIFY_SOCKET", "INVOCATION_ID", "JOURNAL_STREAM", "FAL_KEY_ID",
                      "FAL_KEY_SECRET", "CREDENTIALS_DIRECTORY"}});
  }

  // The daemon's log after the last line matching `marker`.
  std::string log_after_last(const std::string& marker) const {
    const auto log = daemon->log();
    const auto at = log.rfind(marker);
    return at == std::string::npos ? std::string() : log.substr(at);
  }

  // Lines of the stderr text format ("<time> <level> <message> ...") at `level`.
  static int lines_at_level(const std::string& text, const std::string& level) {
    const std::regex at_level("^\\S+ " + level + " ");
    std::istringstream lines(text);
    int found = 0;
    for (std::string line; std::getline(lines, line);) {
      if (std::regex_search(line, at_level)) ++found;
    }
    return found;
  }

  MediaPair pair;
};

// Case 6: two daemons on one state folder both ran, both recovering and submitting the same
// jobs. The second now exits at once with a clear message and exit code 75.
TEST_F(OperationsE2E, ASecondDaemonOnTheSameStateFolderExitsWithAClearMessage) {
  start_daemon();
  auto second = start_second_daemon("second.log", {"FAL_KEY=" + emulator->key()});
  const auto code = second->wait_for_exit(30s);
  ASSERT_TRUE(code.has_value()) << "the second daemon kept running:\n" << second->log();
  EXPECT_EQ(*code, 75) << second->log();
  EXPECT_NE(second->log().find("already running"), std::string::npos) << second->log();
  EXPECT_NE(second->log().find("pid " + std::to_string(daemon->pid())), std::string::npos)
      << second->log();
  EXPECT_EQ(second->log().find("lipsyncd ready"), std::string::npos) << second->log();
  EXPECT_TRUE(fs::exists(state() / "lipsyncd.lock"));

  // The first is untouched, and the commands still work beside it.
  EXPECT_TRUE(daemon->running());
  int status_code = -1;
  run_cli({"status"}, &status_code);
  EXPECT_EQ(status_code, 0);
  drop_pair("one");
  ASSERT_TRUE(delivered("one", 90s)) << daemon->log();
  EXPECT_EQ(requests_created(), 1u);

  // The lock dies with its holder, even by kill -9: the next start is not blocked.
  daemon->signal(SIGKILL);
  ASSERT_TRUE(daemon->wait_for_exit(10s).has_value());
  start_daemon();
  stop_daemon();
}

// Issue 14: [fleet] node names the daemon on every line it logs, and its lock. With the SQLite
// store the state folder still holds one daemon, whatever the node names: only fleet nodes (a
// PostgreSQL [store] url) share one, which tests/unit/test_daemon_instance_lock.cpp covers
// with a second process, and the fleet suite with a real database.
TEST_F(OperationsE2E, OnSqliteAnotherNodeNameDoesNotLetASecondDaemonOntoTheStateFolder) {
  settings["fleet"]["node"] = "\"node-a\"";
  start_daemon();
  const auto ready = daemon->wait_for_output(std::regex("lipsyncd ready.* node=node-a\\n"), 1s);
  EXPECT_TRUE(ready.has_value()) << "the ready line names the node:\n" << daemon->log();

  settings["fleet"]["node"] = "\"node-b\"";
  const fs::path first_config = config_file;
  const fs::path other_config = dir / "node-b.toml";
  config_file = other_config;  // the same [paths], another node name
  write_config();
  config_file = first_config;
  auto second = start_second_daemon("node-b.log", {"FAL_KEY=" + emulator->key()}, other_config);
  const auto code = second->wait_for_exit(30s);
  ASSERT_TRUE(code.has_value()) << "the second daemon kept running:\n" << second->log();
  EXPECT_EQ(*code, 75) << second->log();
  EXPECT_NE(second->log().find("already running"), std::string::npos) << second->log();
  EXPECT_NE(second->log().find("pid " + std::to_string(daemon->pid())), std::string::npos)
      << second->log();
  EXPECT_NE(second->log().find("[store] url"), std::string::npos)
      << "says how daemons may share a folder:\n"
      << second->log();
  EXPECT_FALSE(fs::exists(state() / "lipsyncd-node-b.lock"));

  // The first goes on, every line it logs naming it.
  drop_pair("one");
  ASSERT_TRUE(delivered("one", 90s)) << daemon->log();
  stop_daemon();
  // Lines of the log format (a library may print something else to stderr).
  const std::regex log_line(R"(^\d{4}-\d\d-\d\dT\S+ [a-z]+ )");
  std::istringstream lines(daemon->log());
  int logged = 0;
  for (std::string line; std::getline(lines, line);) {
    if (!std::regex_search(line, log_line)) continue;
    ++logged;
    EXPECT_TRUE(line.ends_with(" node=node-a")) << line;
  }
  EXPECT_GT(logged, 5) << daemon->log();
}

// Case 8: a missing key made `run` exit 1, which systemd restarts forever; a configuration
// only a person can fix exits 78 (EX_CONFIG, RestartPreventExitStatus).
TEST_F(OperationsE2E, AMissingFalKeyAtStartExits78) {
  write_config();
  auto keyless = start_second_daemon("keyless.log", {"FAL_KEY="});
  const auto code = keyless->wait_for_exit(30s);
  ASSERT_TRUE(code.has_value()) << keyless->log();
  EXPECT_EQ(*code, 78) << keyless->log();
  EXPECT_NE(keyless->log().find("FAL_KEY"), std::string::npos) << keyless->log();
  EXPECT_TRUE(emulator->requests().empty());
}

// Case 8: SIGHUP with an empty file was accepted and dropped the budget caps silently: a held
// job would have been paid for. Empty, truncated and cap-dropping files are refused.
TEST_F(OperationsE2E, AnEmptyOrCapDroppingFileIsRefusedOnReloadAndTheCapStays) {
  settings["budget"]["daily_usd"] = "0.001";  // the small pair costs about 0.0075 USD
  write_config();
  std::stringstream original;
  original << std::ifstream(config_file).rdbuf();
  start_daemon();
  drop_pair("pricey");
  ASSERT_TRUE(daemon->wait_for_output(std::regex("event=held"), 60s)) << daemon->log();

  const auto reload_with = [&](const std::string& text, int refusals_before) {
    std::ofstream(config_file, std::ios::trunc) << text;
    daemon->signal(SIGHUP);
    return eventually(
        [&] {
          const auto log = daemon->log();
          int refusals = 0;
          for (auto at = log.find("reload refused"); at != std::string::npos;
               at = log.find("reload refused", at + 1)) {
            ++refusals;
          }
          return refusals > refusals_before;
        },
        10s);
  };
  ASSERT_TRUE(reload_with("", 0)) << daemon->log();
  EXPECT_NE(daemon->log().find("sets no key"), std::string::npos) << daemon->log();
  ASSERT_TRUE(reload_with("# lipsyncd\n\n[budget]\n", 1)) << daemon->log();

  // Everything but the cap: also refused, with how to remove a cap on purpose.
  std::string without_cap = original.str();
  without_cap = std::regex_replace(without_cap, std::regex("daily_usd = [0-9.]+\n"), "");
  ASSERT_TRUE(reload_with(without_cap, 2)) << daemon->log();
  EXPECT_NE(daemon->log().find("daily_usd is missing"), std::string::npos) << daemon->log();

  std::this_thread::sleep_for(1500ms);  // pump rounds under whatever configuration is in force
  EXPECT_TRUE(daemon->running());
  const auto status = status_json();
  ASSERT_EQ(status.at("jobs").as_array().size(), 1u);
  EXPECT_EQ(status.at("jobs").as_array()[0].at("state").as_string(), "held");
  EXPECT_EQ(uploads(), 0u) << "the cap was dropped: the held job went to fal";

  // Raising the cap explicitly is a reload like any other.
  settings["budget"]["daily_usd"] = "10";
  write_config();
  daemon->signal(SIGHUP);
  ASSERT_TRUE(delivered("pricey", 90s)) << daemon->log();
  stop_daemon();
}

// Case 8: a reload that changed [log] level said "reloaded" and kept the old level.
TEST_F(OperationsE2E, AReloadChangesTheLogLevel) {
  settings["log"]["level"] = "\"info\"";
  write_config();
  start_daemon();
  drop_pair("at_info");
  ASSERT_TRUE(delivered("at_info", 90s)) << daemon->log();
  EXPECT_EQ(lines_at_level(daemon->log(), "debug"), 0) << daemon->log();

  settings["log"]["level"] = "\"debug\"";
  write_config();
  daemon->signal(SIGHUP);
  ASSERT_TRUE(daemon->wait_for_output(std::regex("configuration reloaded.*log level debug"), 10s))
      << daemon->log();
  drop_pair("at_debug");
  ASSERT_TRUE(delivered("at_debug", 90s)) << daemon->log();
  EXPECT_GT(lines_at_level(log_after_last("log level debug"), "debug"), 0) << daemon->log();

  settings["log"]["level"] = "\"warn\"";
  write_config();
  daemon->signal(SIGHUP);
  ASSERT_TRUE(daemon->wait_for_output(std::regex("configuration reloaded.*log level warn"), 10s))
      << daemon->log();
  drop_pair("at_warn");
  ASSERT_TRUE(delivered("at_warn", 90s)) << daemon->log();
  const auto after = log_after_last("log level warn");
  // The reload's own confirmation is the last info line; nothing at info or debug follows.
  EXPECT_EQ(lines_at_level(after, "info"), 0) << after;
  EXPECT_EQ(lines_at_level(after, "debug"), 0) << after;
  EXPECT_EQ(after.find("event=delivered"), std::string::npos) << after;
  stop_daemon();
}

// Case 9: an ambiguous submit was reported as "held by budget" in the heartbeat (and systemd's
// STATUS=), and `status` said "ambiguous_submit: ambiguous_submit: ...".
TEST_F(OperationsE2E, AnAmbiguousHoldIsReportedAsSuchAndSaidOnce) {
  settings["daemon"]["heartbeat_s"] = "1";
  emulator->set_faults(R"({"method": "POST", "path": "^/fal-ai/sync-lipsync$",
                           "action": "accept_then_reset", "times": 1})");
  write_config();
  start_daemon();
  drop_pair("maybe");
  ASSERT_TRUE(daemon->wait_for_output(std::regex("event=held"), 60s)) << daemon->log();
  ASSERT_TRUE(
      daemon->wait_for_output(std::regex("1 held \\(ambiguous_submit\\).*event=heartbeat"), 10s))
      << daemon->log();
  EXPECT_EQ(daemon->log().find("held by budget"), std::string::npos) << daemon->log();
  EXPECT_NE(daemon->log().find("held_ambiguous_submit=1"), std::string::npos) << daemon->log();

  int code = -1;
  const auto table = run_cli({"status"}, &code);
  EXPECT_EQ(code, 0) << table;
  std::string job_line;
  std::istringstream lines(table);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("maybe") != std::string::npos) job_line = line;
  }
  ASSERT_FALSE(job_line.empty()) << table;
  const auto count = [&job_line](const std::string& what) {
    int found = 0;
    for (auto at = job_line.find(what); at != std::string::npos; at = job_line.find(what, at + 1)) {
      ++found;
    }
    return found;
  };
  EXPECT_EQ(count("ambiguous_submit"), 1) << job_line;
  EXPECT_EQ(count("may or may not"), 1) << job_line;
  const auto held = status_json().at("jobs").as_array()[0].as_object();
  EXPECT_EQ(held.at("hold_reason").as_string(), "ambiguous_submit");
  EXPECT_EQ(held.at("reason_code").as_string(), "ambiguous_submit");
  stop_daemon();
}

// Case 9: `status` and `status --json` counted only the rows shown (--recent), not the store.
TEST_F(OperationsE2E, StatusCountsEveryJobInTheStoreNotOnlyTheRowsShown) {
  start_daemon();
  for (const std::string stem : {"c1", "c2", "c3"}) drop_pair(stem);
  for (const std::string stem : {"c1", "c2", "c3"}) {
    ASSERT_TRUE(delivered(stem, 120s)) << daemon->log();
  }
  ASSERT_TRUE(eventually(
      [&] {
        const auto counts = status_json().at("counts").as_object();
        return counts.contains("delivered") && counts.at("delivered").as_int64() == 3;
      },
      10s));
  int code = -1;
  const auto json = boost::json::parse(run_cli({"status", "--json", "--recent", "1"}, &code));
  EXPECT_EQ(code, 0);
  EXPECT_EQ(json.at("jobs").as_array().size(), 1u);
  EXPECT_EQ(json.at("counts").at("delivered").as_int64(), 3) << json;
  const auto table = run_cli({"status", "--recent", "1"}, &code);
  EXPECT_NE(table.find("delivered=3"), std::string::npos) << table;
  stop_daemon();
}

}  // namespace
}  // namespace lipsyncd::test
