// Metrics end to end (issue 16): the real daemon against the emulator on real media, through
// a delivery (with one fal status answer 503, retried), a failure (no face), a rejection (a
// lone video) and a hold (an ambiguous submit). Then /metrics is scraped and EVERY series of
// the README's metrics table is checked with its value, not only its presence; and every metric
// name, label and label value used by the Prometheus rules and the Grafana dashboard in
// monitoring/ must exist in that scrape, so a renamed metric fails here instead of silently
// blanking a panel or an alert.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "daemon_test.hpp"
#include "loopback_http.hpp"

namespace lipsyncd::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using Labels = std::map<std::string, std::string>;

struct Sample {
  std::string name;  // as exposed: lipsyncd_stage_duration_seconds_bucket
  Labels labels;
  double value = 0;
};

// One /metrics answer in Prometheus' text format, parsed.
struct Scrape {
  std::vector<Sample> samples;
  std::map<std::string, std::string> types;  // family name -> counter | gauge | histogram
  std::string text;

  // The value of the one series `name{labels}` (labels exactly), or nullopt.
  std::optional<double> value(const std::string& name, const Labels& labels = {}) const {
    for (const auto& sample : samples) {
      if (sample.name == name && sample.labels == labels) return sample.value;
    }
    return std::nullopt;
  }
  std::vector<const Sample*> series(const std::string& name) const {
    std::vector<const Sample*> found;
    for (const auto& sample : samples) {
      if (sample.name == name) found.push_back(&sample);
    }
    return found;
  }
  double sum(const std::string& name) const {
    double total = 0;
    for (const auto* sample : series(name)) total += sample->value;
    return total;
  }
};

Labels parse_labels(const std::string& text) {
  Labels labels;
  static const std::regex pair(R"re(([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)")re");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), pair); it != std::sregex_iterator();
       ++it) {
    labels[(*it)[1]] = (*it)[2];
  }
  return labels;
}

Scrape parse_scrape(const std::string& text) {
  Scrape scrape;
  scrape.text = text;
  std::istringstream in(text);
  std::string line;
  static const std::regex type_line(R"(# TYPE (\S+) (\S+))");
  static const std::regex sample_line(R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+))");
  std::smatch match;
  while (std::getline(in, line)) {
    if (std::regex_match(line, match, type_line)) {
      scrape.types[match[1]] = match[2];
    } else if (!line.empty() && line[0] != '#' && std::regex_match(line, match, sample_line)) {
      scrape.samples.push_back(
          {match[1], parse_labels(match[3]), std::strtod(match[4].str().c_str(), nullptr)});
    }
  }
  return scrape;
}

// The metric names of the README's "### Metrics" table, with the label names it documents.
std::map<std::string, std::set<std::string>> readme_metrics_table() {
  std::ifstream in(source_dir() / "README.md");
  std::string line;
  bool in_section = false;
  std::map<std::string, std::set<std::string>> table;
  static const std::regex name(R"(`(lipsyncd_[a-z0-9_]+)`)");
  static const std::regex label(R"(`([a-z_]+)`)");
  while (std::getline(in, line)) {
    if (line.starts_with("### ")) in_section = line == "### Metrics";
    if (!in_section || !line.starts_with("| `lipsyncd_")) continue;
    // | `name`, `name` | type | `label`, `label` | meaning |
    std::vector<std::string> cells;
    std::stringstream row(line.substr(1));
    for (std::string cell; std::getline(row, cell, '|');) cells.push_back(cell);
    if (cells.size() < 3) continue;
    // The labels column holds only label names; their values are in the meaning column.
    std::set<std::string> labels;
    for (auto it = std::sregex_iterator(cells[2].begin(), cells[2].end(), label);
         it != std::sregex_iterator(); ++it) {
      labels.insert((*it)[1]);
    }
    for (auto it = std::sregex_iterator(cells[0].begin(), cells[0].end(), name);
         it != std::sregex_iterator(); ++it) {
      table[(*it)[1]] = labels;
    }
  }
  return table;
}

std::vector<std::string> dashboard_expressions();

// Every PromQL expression of the alert rules (`expr:` one line or a `|` block) and of the
// dashboard's panels (targets[].expr).
std::vector<std::string> monitoring_expressions() {
  std::vector<std::string> expressions;
  std::ifstream rules(source_dir() / "monitoring" / "lipsyncd.rules.yml");
  std::string line;
  std::optional<std::string> block;
  std::size_t block_indent = 0;
  while (std::getline(rules, line)) {
    const auto indent = line.find_first_not_of(' ');
    if (block) {
      if (indent != std::string::npos && indent > block_indent) {
        *block += line + "\n";
        continue;
      }
      expressions.push_back(*block);
      block.reset();
    }
    const auto key = line.find("expr:");
    if (key == std::string::npos || line.find_first_not_of(' ') != key) continue;
    const std::string rest = line.substr(key + 5);
    if (rest.find('|') != std::string::npos) {
      block = "";
      block_indent = key;
    } else {
      expressions.push_back(rest);
    }
  }
  if (block) expressions.push_back(*block);
  const auto dashboard = dashboard_expressions();
  expressions.insert(expressions.end(), dashboard.begin(), dashboard.end());
  return expressions;
}

// The dashboard's queries as Prometheus would run them: Grafana's variables filled in.
std::vector<std::string> dashboard_expressions() {
  std::vector<std::string> expressions;
  const auto panels =
      read_json(source_dir() / "monitoring" / "lipsyncd.dashboard.json").at("panels").as_array();
  for (const auto& panel : panels) {
    for (const auto& target : panel.at("targets").as_array()) {
      std::string expression(target.at("expr").as_string());
      expression = std::regex_replace(expression, std::regex(R"(\$__rate_interval)"), "5m");
      expression = std::regex_replace(expression, std::regex(R"(\$instance)"), ".*");
      expressions.push_back(expression);
    }
  }
  return expressions;
}

// Labels Prometheus adds itself, or histograms have: not the daemon's to export.
bool is_target_or_bucket_label(const std::string& label) {
  return label == "instance" || label == "job" || label == "le";
}

class MetricsE2E : public DaemonTest {
 protected:
  Scrape scrape() {
    const auto response = http_get(port, "/metrics");
    const auto body = response.find("\r\n\r\n");
    EXPECT_NE(body, std::string::npos) << "no answer from /metrics: " << response;
    return parse_scrape(body == std::string::npos ? "" : response.substr(body + 4));
  }

  // Asserts `name{labels}` == expected and records that the series was checked by value.
  void expect_value(const Scrape& s, const std::string& name, const Labels& labels,
                    double expected) {
    checked.insert(family_of(name));
    const auto value = s.value(name, labels);
    ASSERT_TRUE(value.has_value())
        << name << " " << ::testing::PrintToString(labels) << " is missing from /metrics:\n"
        << s.text;
    EXPECT_NEAR(*value, expected, 1e-6) << name << " " << ::testing::PrintToString(labels);
  }
  std::string family_of(const std::string& name) const {
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string end = suffix;
      if (name.ends_with(end)) {
        const auto base = name.substr(0, name.size() - end.size());
        if (base == "lipsyncd_stage_duration_seconds") return base;
      }
    }
    return name;
  }

  int port = free_port();
  std::set<std::string> checked;  // metric families whose values this test asserted
};

TEST_F(MetricsE2E, EveryDocumentedSeriesHasItsValueAndEveryQueryFindsItsMetrics) {
  const auto started = std::chrono::system_clock::now();
  settings["metrics"]["listen"] = "\"127.0.0.1:" + std::to_string(port) + "\"";
  settings["daemon"]["heartbeat_s"] = "1";
  settings["budget"]["daily_usd"] = "50";
  settings["budget"]["monthly_usd"] = "500";
  settings["intake"]["duplicate_window_h"] = "0";
  settings["fleet"]["node"] = "\"metrics-node\"";  // one node: the fleet gauges show it alone
  write_config();

  // Already in the inbox at start: found by the first scan. fal's first status answer is a
  // 503, which the client retries.
  drop("real_talk_monalisa_720p.mp4", "a.mp4");
  drop("speech_1s.wav", "a.wav");
  emulator->set_faults(
      R"({"method": "GET", "path": "^/fal-ai/sync-lipsync/requests/[^/]+/status$",
          "action": "status", "status": 503, "times": 1})");
  start_daemon();
  ASSERT_TRUE(delivered("a")) << daemon->log();
  emulator->clear_faults();

  // A failure (no face: failed at prepare, nothing paid) and a rejection (a lone video).
  drop("noface_testsrc.mp4", "b.mp4");
  drop("speech_1s.wav", "b.wav");
  ASSERT_TRUE(rejected("b")) << daemon->log();
  EXPECT_EQ(reason_of("b"), "no_face");
  drop("real_talk_monalisa_720p.mp4", "c.mp4");
  ASSERT_TRUE(rejected("c")) << daemon->log();
  EXPECT_EQ(reason_of("c"), "no_audio_found");

  // A hold: fal creates the request but the connection drops before the answer.
  emulator->set_faults(
      R"({"method": "POST", "path": "^/fal-ai/sync-lipsync$", "action": "accept_then_reset"})");
  drop("real_talk_monalisa_720p.mp4", "h.mp4");
  drop("speech_5s.wav", "h.wav");
  ASSERT_TRUE(daemon->wait_for_output(std::regex("event=held.*reason_code=ambiguous_submit"), 120s))
      << daemon->log();
  std::this_thread::sleep_for(2500ms);  // the held job ages; a heartbeat or two pass

  const auto first = scrape();
  std::this_thread::sleep_for(1500ms);
  const auto s = scrape();
  const auto status = status_json();

  // ── jobs and outcomes ─────────────────────────────────────────────────────────────────────
  for (const auto state : {"accepted", "prepared", "uploaded", "submitting", "submitted",
                           "completed", "delivered", "deferred", "held", "failed", "cancelled"}) {
    const std::string st = state;
    const double expected = st == "delivered" || st == "held" || st == "failed" ? 1 : 0;
    expect_value(s, "lipsyncd_jobs", {{"state", st}}, expected);
  }
  expect_value(s, "lipsyncd_held_jobs", {{"reason", "ambiguous_submit"}}, 1);
  expect_value(s, "lipsyncd_held_jobs", {{"reason", "budget"}}, 0);
  expect_value(s, "lipsyncd_held_jobs", {{"reason", "duplicate_in_flight"}}, 0);
  expect_value(s, "lipsyncd_jobs_finished_total", {{"outcome", "delivered"}, {"reason_code", ""}},
               1);
  expect_value(s, "lipsyncd_jobs_finished_total",
               {{"outcome", "failed"}, {"reason_code", "no_face"}}, 1);
  expect_value(s, "lipsyncd_jobs_finished_total",
               {{"outcome", "rejected"}, {"reason_code", "no_audio_found"}}, 1);
  EXPECT_EQ(s.series("lipsyncd_jobs_finished_total").size(), 3u) << s.text;
  for (const auto& [event, count] : std::map<std::string, double>{{"accepted", 3},
                                                                  {"prepared", 2},
                                                                  {"uploaded", 2},
                                                                  {"submitted", 1},
                                                                  {"completed", 1},
                                                                  {"delivered", 1},
                                                                  {"failed", 1},
                                                                  {"rejected", 1},
                                                                  {"held", 1}}) {
    expect_value(s, "lipsyncd_job_events_total", {{"event", event}}, count);
  }

  // ── stage durations: one observation per stage passed, with real times ────────────────────
  const std::map<std::string, double> passed = {
      {"prepare", 2}, {"upload", 2}, {"submit", 1}, {"fal", 1}, {"deliver", 1}};
  for (const auto& [stage, count] : passed) {
    expect_value(s, "lipsyncd_stage_duration_seconds_count", {{"stage", stage}}, count);
    expect_value(s, "lipsyncd_stage_duration_seconds_bucket", {{"stage", stage}, {"le", "+Inf"}},
                 count);
    const auto sum = s.value("lipsyncd_stage_duration_seconds_sum", {{"stage", stage}});
    ASSERT_TRUE(sum.has_value()) << stage;
    EXPECT_GT(*sum, 0) << stage;
    EXPECT_LT(*sum, 120) << stage;
  }
  // The face check and normalization of a 720p clip take far longer than a millisecond.
  EXPECT_GT(*s.value("lipsyncd_stage_duration_seconds_sum", {{"stage", "prepare"}}), 0.05);

  // ── bytes and fal's answers ────────────────────────────────────────────────────────────────
  const auto sidecar = read_json(outbox() / "a.lipsync.json");
  // Every byte on the wire to and from fal, headers included: the request and answer bodies
  // the emulator logged, plus at most a few KiB of headers per exchange.
  double sent_bodies = 0;
  const auto exchanges = static_cast<double>(emulator->requests().size());
  for (const auto& entry : emulator->requests()) {
    sent_bodies += static_cast<double>(entry.at("body_bytes").to_number<std::int64_t>());
  }
  const double result_bytes = static_cast<double>(fs::file_size(outbox() / "a.lipsync.mp4"));
  checked.insert("lipsyncd_uploaded_bytes_total");
  checked.insert("lipsyncd_downloaded_bytes_total");
  const double uploaded = s.value("lipsyncd_uploaded_bytes_total").value_or(-1);
  const double downloaded = s.value("lipsyncd_downloaded_bytes_total").value_or(-1);
  EXPECT_GE(uploaded, sent_bodies) << s.text;
  EXPECT_LE(uploaded, sent_bodies + 4096 * exchanges) << s.text;
  EXPECT_GE(downloaded, result_bytes) << s.text;
  EXPECT_LE(downloaded, result_bytes + 4096 * exchanges) << s.text;
  expect_value(s, "lipsyncd_fal_http_responses_total", {{"operation", "status"}, {"code", "503"}},
               1);
  expect_value(s, "lipsyncd_fal_http_responses_total", {{"operation", "submit"}, {"code", "200"}},
               1);
  expect_value(s, "lipsyncd_fal_retries_total", {{"operation", "status"}}, 1);
  EXPECT_EQ(s.sum("lipsyncd_fal_retries_total"), 1) << s.text;
  // Every answer fal gave is counted once: the emulator's log minus the submit it dropped.
  double answered = 0;
  for (const auto& entry : emulator->requests()) {
    const auto* fault = entry.if_contains("fault");
    if (fault != nullptr && fault->is_string() && fault->as_string() == "accept_then_reset") {
      continue;
    }
    ++answered;
  }
  EXPECT_EQ(s.sum("lipsyncd_fal_http_responses_total"), answered) << s.text;

  // ── money: the delivered job's estimate at submit; the ledger also holds the held job's ────
  const double estimate = sidecar.at("estimated_cost_usd").to_number<double>();
  EXPECT_GT(estimate, 0);
  checked.insert("lipsyncd_spend_usd_total");
  EXPECT_NEAR(s.value("lipsyncd_spend_usd_total").value_or(-1), estimate, 5e-5)
      << "the sidecar rounds to 1/100 of a cent";
  const auto& spend = status.at("spend").as_object();
  const double today = spend.at("today_usd").to_number<double>();
  const double month = spend.at("this_month_usd").to_number<double>();
  EXPECT_GT(today, estimate) << "the ambiguous submit's estimate counts in the ledger";
  const auto near_cent = [](double a, double b) { return std::abs(a - b) < 1e-4; };
  const auto period_spend = [&](const char* period) {
    checked.insert("lipsyncd_period_spend_usd");
    return s.value("lipsyncd_period_spend_usd", {{"period", period}}).value_or(-1);
  };
  EXPECT_TRUE(near_cent(period_spend("daily"), today)) << s.text;
  EXPECT_TRUE(near_cent(period_spend("monthly"), month)) << s.text;
  expect_value(s, "lipsyncd_budget_cap_usd", {{"period", "daily"}}, 50);
  expect_value(s, "lipsyncd_budget_cap_usd", {{"period", "monthly"}}, 500);
  checked.insert("lipsyncd_budget_remaining_usd");
  EXPECT_TRUE(
      near_cent(*s.value("lipsyncd_budget_remaining_usd", {{"period", "daily"}}), 50 - today))
      << s.text;
  EXPECT_TRUE(
      near_cent(*s.value("lipsyncd_budget_remaining_usd", {{"period", "monthly"}}), 500 - month))
      << s.text;

  // ── the inbox watcher: a scan at start, renames after ─────────────────────────────────────
  expect_value(s, "lipsyncd_watcher_events_total", {{"kind", "scan_found"}}, 2);   // a.mp4, a.wav
  expect_value(s, "lipsyncd_watcher_events_total", {{"kind", "moved_to"}}, 5);     // b, b, c, h, h
  expect_value(s, "lipsyncd_watcher_events_total", {{"kind", "close_write"}}, 0);  // hidden .part
  expect_value(s, "lipsyncd_watcher_events_total", {{"kind", "rescan_found"}}, 0);
  expect_value(s, "lipsyncd_watcher_events_total", {{"kind", "overflow"}}, 0);
  expect_value(s, "lipsyncd_watcher_events_total", {{"kind", "created_dir"}}, 0);

  // ── the held job ages: gauge, and the heartbeat's field ───────────────────────────────────
  const auto& jobs = status.at("jobs").as_array();
  double held_age = -1;
  for (const auto& job : jobs) {
    if (job.at("state").as_string() == "held") {
      held_age = static_cast<double>(job.at("age_s").to_number<std::int64_t>());
    }
  }
  ASSERT_GE(held_age, 2) << boost::json::serialize(status);
  checked.insert("lipsyncd_oldest_job_age_seconds");
  const double age = *s.value("lipsyncd_oldest_job_age_seconds");
  EXPECT_GE(age, held_age - 1) << s.text;
  EXPECT_LE(age, held_age + 2) << s.text;
  EXPECT_GE(age - *first.value("lipsyncd_oldest_job_age_seconds"), 1.0)
      << "the oldest job's age does not grow between scrapes";
  const auto log = daemon->log();
  const std::regex heartbeat_age(R"(event=heartbeat.* oldest_job_age_seconds=([0-9.]+))");
  double beat_age = 0;
  for (auto it = std::sregex_iterator(log.begin(), log.end(), heartbeat_age);
       it != std::sregex_iterator(); ++it) {
    beat_age = std::strtod((*it)[1].str().c_str(), nullptr);
  }
  EXPECT_GT(beat_age, 1.0) << "the heartbeat's oldest_job_age_seconds stays 0:\n" << log;

  // ── nothing blocked, healthy, started during this test ────────────────────────────────────
  expect_value(s, "lipsyncd_delivery_blocked", {{"reason_code", "delivery_blocked"}}, 0);
  expect_value(s, "lipsyncd_delivery_blocked", {{"reason_code", "disk_full"}}, 0);
  expect_value(s, "lipsyncd_healthy", {}, 1);

  // ── fleet mode on one node: it names itself, holds nothing at rest, took nothing over ─────
  expect_value(s, "lipsyncd_node_info", {{"node", "metrics-node"}}, 1);
  expect_value(s, "lipsyncd_leases_taken_over_total", {}, 0);
  expect_value(s, "lipsyncd_fleet_leased_jobs", {{"node", "metrics-node"}}, 0);
  expect_value(s, "lipsyncd_fleet_expired_leases", {}, 0);
  checked.insert("lipsyncd_fleet_heartbeat_age_seconds");
  const auto lease_renewed_s =
      s.value("lipsyncd_fleet_heartbeat_age_seconds", {{"node", "metrics-node"}});
  ASSERT_TRUE(lease_renewed_s.has_value()) << s.text;
  EXPECT_GE(*lease_renewed_s, 0.0);
  EXPECT_LT(*lease_renewed_s, 30.0) << "the node's leases are not renewed";
  checked.insert("lipsyncd_start_time_seconds");
  const double start_time = *s.value("lipsyncd_start_time_seconds");
  EXPECT_GE(start_time, std::chrono::duration<double>(started.time_since_epoch()).count() - 1);
  EXPECT_LE(start_time, static_cast<double>(std::time(nullptr)));

  // ── the README's table: every documented metric is exported, with its documented labels,
  // and was checked by value above ──────────────────────────────────────────────────────────
  const auto table = readme_metrics_table();
  ASSERT_GE(table.size(), 10u) << "the README's metrics table was not found";
  for (const auto& [name, labels] : table) {
    EXPECT_TRUE(s.types.contains(name)) << name << " is documented but not exported";
    EXPECT_TRUE(checked.contains(name)) << name << " is documented but its value is not tested";
    const std::string series_name =
        s.types.contains(name) && s.types.at(name) == "histogram" ? name + "_count" : name;
    for (const auto* sample : s.series(series_name)) {
      std::set<std::string> names;
      for (const auto& [label, value] : sample->labels) names.insert(label);
      EXPECT_EQ(names, labels) << name << ": the README documents other labels";
    }
  }
  for (const auto& [name, type] : s.types) {
    EXPECT_TRUE(table.contains(name)) << name << " is exported but not in the README's table";
  }

  // ── the rules' and the dashboard's queries ────────────────────────────────────────────────
  const auto expressions = monitoring_expressions();
  ASSERT_GE(expressions.size(), 20u);
  static const std::regex selector(R"((lipsyncd_[a-z0-9_]+)(\{([^}]*)\})?)");
  static const std::regex matcher(R"re(([a-z_]+)\s*(=~|!~|!=|=)\s*"([^"]*)")re");
  static const std::regex grouping(R"((?:by|without)\s*\(([^)]*)\))");
  for (const auto& expression : expressions) {
    std::set<std::string> labels_in_expression;
    for (auto it = std::sregex_iterator(expression.begin(), expression.end(), selector);
         it != std::sregex_iterator(); ++it) {
      const std::string name = (*it)[1];
      const auto found = s.series(name);
      EXPECT_FALSE(found.empty()) << "`" << name << "` (in: " << expression
                                  << ") is not in /metrics";
      std::map<std::string, std::set<std::string>> values;  // label -> values seen
      for (const auto* sample : found) {
        for (const auto& [label, value] : sample->labels) {
          values[label].insert(value);
          labels_in_expression.insert(label);
        }
      }
      const std::string matchers = (*it)[3];
      for (auto m = std::sregex_iterator(matchers.begin(), matchers.end(), matcher);
           m != std::sregex_iterator(); ++m) {
        const std::string label = (*m)[1];
        const std::string op = (*m)[2];
        const std::string value = (*m)[3];
        if (is_target_or_bucket_label(label)) continue;
        ASSERT_TRUE(values.contains(label))
            << "`" << name << "` has no label `" << label << "` (in: " << expression << ")";
        if (op == "=") {
          EXPECT_TRUE(values[label].contains(value))
              << "`" << name << "{" << label << "=\"" << value << "\"}` never appears";
        } else if (op == "=~" || op == "!~") {
          // Every plain word of an alternation must be a value the daemon uses.
          std::stringstream alternatives(value);
          for (std::string word; std::getline(alternatives, word, '|');) {
            if (std::regex_match(word, std::regex("[a-z_]+"))) {
              EXPECT_TRUE(values[label].contains(word))
                  << "`" << name << "{" << label << "=~...}`: `" << word << "` never appears";
            }
          }
        }
      }
    }
    for (auto it = std::sregex_iterator(expression.begin(), expression.end(), grouping);
         it != std::sregex_iterator(); ++it) {
      std::stringstream list((*it)[1]);
      for (std::string label; std::getline(list, label, ',');) {
        label.erase(0, label.find_first_not_of(' '));
        label.erase(label.find_last_not_of(' ') + 1);
        if (label.empty() || is_target_or_bucket_label(label)) continue;
        EXPECT_TRUE(labels_in_expression.contains(label))
            << "grouping by `" << label
            << "`, which no metric of the expression has: " << expression;
      }
    }
  }
  stop_daemon();
}

// The dashboard's queries are valid PromQL: promtool parses them as recording rules.
TEST(MetricsDashboard, EveryPanelQueryParses) {
  TempDir dir;
  const auto rules = dir / "dashboard.rules.yml";
  {
    std::ofstream out(rules);
    out << "groups:\n  - name: dashboard\n    rules:\n";
    int n = 0;
    for (const auto& expression : dashboard_expressions()) {
      std::string quoted;
      for (const char c : expression) quoted += c == '\'' ? std::string("''") : std::string(1, c);
      out << "      - record: lipsyncd:dashboard_query_" << ++n << "\n        expr: '" << quoted
          << "'\n";
    }
  }
  const auto log = dir / "promtool.log";
  const int code =
      run_to_completion({"/usr/bin/promtool", "check", "rules", rules.string()}, log, 30s);
  EXPECT_EQ(code, 0) << read_text(log) << "\n" << read_text(rules);
}

}  // namespace
}  // namespace lipsyncd::test
