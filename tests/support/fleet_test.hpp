#pragma once
// The fixture of the fleet tests and benchmarks: a real PostgreSQL (postgres_server.hpp) with
// one database, and any number of `lipsyncd run` nodes sharing one configuration (and so one
// set of [paths]) but each with its own [fleet] node name, against one fal emulator at zero
// work. Header-only.

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "daemon_test.hpp"
#include "postgres_server.hpp"
#include "small_pair.hpp"

namespace lipsyncd::test {

inline const std::vector<std::string> kNodes = {"node-a", "node-b", "node-c"};

inline std::string quoted(const std::string& text) {
  return "\"" + text + "\"";
}

inline std::size_t occurrences(const std::string& text, const std::string& what) {
  std::size_t count = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++count;
  return count;
}

class FleetTest : public DaemonTest {
 protected:
  void SetUp() override {
    database = PostgresServer::start();
    ASSERT_TRUE(database);
    database->create_database("fleet");
  }

  void TearDown() override {
    for (auto& [name, node] : nodes) {
      if (node && node->running()) node->signal(SIGKILL);
    }
  }

  // Zero-work jobs (see use_zero_work_burst_setup()) on the shared database (or, to compare,
  // on each node's SQLite file: one node only then).
  void configure_fleet(int lease_s, bool on_postgres = true) {
    use_zero_work_burst_setup();
    if (on_postgres) settings["store"]["url"] = quoted(database->url("fleet"));
    settings["fleet"]["lease_s"] = std::to_string(lease_s);
    write_config();
  }

  // One node: the shared configuration plus its own [fleet] node, in its own file.
  void start_node(const std::string& name) {
    const auto file = dir / ("lipsyncd-" + name + ".toml");
    auto node_settings = settings;
    node_settings["fleet"]["node"] = quoted(name);
    std::ofstream out(file);
    for (const auto& [section, values] : node_settings) {
      out << "[" << section << "]\n";
      for (const auto& [key, value] : values) out << key << " = " << value << "\n";
    }
    out.close();
    auto process = std::make_unique<ChildProcess>(
        std::vector<std::string>{(bin_dir() / "lipsyncd").string(), "run", "--config",
                                 file.string()},
        dir / (name + ".log"),
        ChildOptions{{"FAL_KEY=" + emulator->key()},
                     {"NOTIFY_SOCKET", "INVOCATION_ID", "JOURNAL_STREAM", "FAL_KEY_ID"}});
    ASSERT_TRUE(process->wait_for_output(std::regex("lipsyncd ready"), std::chrono::seconds(30)))
        << name << " did not become ready:\n"
        << process->log();
    nodes[name] = std::move(process);
  }

  void start_nodes(std::size_t count = kNodes.size()) {
    for (std::size_t i = 0; i < count; ++i) {
      const auto& name = kNodes[i];
      start_node(name);
      if (HasFatalFailure()) return;
    }
  }

  void drop_pairs(int count) {
    const auto pair = make_small_pair(dir / "small");
    stage_pairs(pair.video, pair.audio, count);
    move_staged_into_inbox();
  }

  std::size_t results_in_outbox() const {
    std::size_t results = 0;
    for (const auto& name : names_in(outbox())) results += name.ends_with(".lipsync.mp4") ? 1 : 0;
    return results;
  }

  // Jobs held with this reason code, as `lipsyncd status` (any node's) lists them.
  std::size_t held_for(const std::string& reason_code) {
    const auto status = status_json();  // named: the loop must not outlive it
    std::size_t held = 0;
    for (const auto& job : status.at("jobs").as_array()) {
      held +=
          job.at("state").as_string() == "held" && job.at("reason_code").as_string() == reason_code
              ? 1
              : 0;
    }
    return held;
  }

  std::size_t delivered_by(const std::string& name) const {
    return occurrences(nodes.at(name)->log(), "event=delivered");
  }

  std::string last_lines() const {
    std::string text;
    for (const auto& [name, node] : nodes) {
      const auto log = node->log();
      text += "── " + name + " ──\n" + log.substr(log.size() > 3000 ? log.size() - 3000 : 0);
    }
    return text;
  }

  void stop_all_nodes() {
    for (auto& [name, node] : nodes) {
      if (!node->running()) continue;
      node->signal(SIGTERM);
      const auto code = node->wait_for_exit(std::chrono::seconds(20));
      ASSERT_TRUE(code.has_value()) << name << " did not stop:\n" << node->log();
      EXPECT_EQ(*code, 0) << name << ":\n" << node->log();
    }
  }

  std::unique_ptr<PostgresServer> database;
  std::map<std::string, std::unique_ptr<ChildProcess>> nodes;
};

}  // namespace lipsyncd::test
