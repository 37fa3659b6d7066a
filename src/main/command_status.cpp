// `lipsyncd status`: the jobs in the store by state, with age and stage, and the spend.

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <optional>
#include <string>

#include "commands.hpp"
#include "lipsyncd/core/json_text.hpp"
#include "lipsyncd/core/number_format.hpp"
#include "lipsyncd/spool/job_store.hpp"
#include "store_commands.hpp"

namespace lipsyncd::cli {
namespace {

struct StatusOptions {
  std::string config_file;
  bool json = false;
  std::size_t recent = 20;
};

std::string human_duration(std::chrono::seconds age) {
  const auto s = age.count();
  if (s < 120) return std::to_string(s) + "s";
  if (s < 7200) return std::to_string(s / 60) + "m";
  if (s < 172800) return std::to_string(s / 3600) + "h";
  return std::to_string(s / 86400) + "d";
}

std::string cell(std::string text, std::size_t width) {
  if (text.size() > width) text = text.substr(0, width - 1) + "~";
  return text + std::string(width - text.size() + 1, ' ');
}

// Why a parked or failed job is where it is, said once: a hold's reason code already names
// its hold reason (ambiguous_submit, budget_exceeded, ...), so the two are never both printed.
std::string reason_of(const spool::JobStatusRow& row) {
  if (!row.reason_code.empty()) return row.reason_code;
  if (row.hold_reason) return std::string(spool::to_string(*row.hold_reason));
  return {};
}

// A long-form job's progress, and a segment's place in its job; empty for other jobs.
std::string segments_of(const spool::JobStatusRow& row) {
  if (row.segment) {
    return "segment " + std::to_string(row.segment->index) + "/" +
           std::to_string(row.segment->count) + " of " + row.segment->parent_id;
  }
  if (row.segments_total > 0) {
    return std::to_string(row.segments_delivered) + "/" + std::to_string(row.segments_total) +
           " segments delivered";
  }
  return {};
}

std::chrono::seconds heartbeat_age(const spool::JobStore& store, const spool::NodeHeartbeat& node) {
  return std::chrono::duration_cast<std::chrono::seconds>(store.now() - node.heartbeat_at);
}

// A node whose leases would have expired by now: its jobs go to the others.
bool is_silent(const spool::JobStore& store, const spool::NodeHeartbeat& node) {
  return heartbeat_age(store, node) > store.lease_length();
}

// `counts` are over every job in the store, not only the rows listed (--recent limits those).
void print_table(const spool::JobStore& store, const std::vector<spool::JobStatusRow>& rows,
                 const std::map<spool::JobState, int>& by_state, const spool::SpendSummary& spend,
                 const BudgetConfig& budget) {
  // A segment's id is its job's and a suffix: wide enough to copy for `lipsyncd retry`.
  std::size_t id_width = 28;
  for (const auto& row : rows) id_width = std::max(id_width, row.id.size());
  std::cout << cell("JOB", id_width) << cell("NAME", 20) << cell("STATE", 10) << cell("STAGE", 10)
            << cell("NODE", 12) << cell("AGE", 5) << cell("FOR", 5) << "DETAIL\n";
  for (const auto& row : rows) {
    std::string detail = segments_of(row);
    if (const auto reason = reason_of(row); !reason.empty()) {
      detail += (detail.empty() ? "" : "; ") + reason + ": " + row.message;
    } else if (!row.message.empty()) {
      detail += (detail.empty() ? "" : "; ") + row.message;
    }
    if (!row.request_id.empty()) detail += " [fal " + row.request_id + "]";
    if (row.attempts > 0) detail += " (attempts " + std::to_string(row.attempts) + ")";
    std::cout << cell(row.id, id_width) << cell(row.name, 20)
              << cell(std::string(spool::to_string(row.state)), 10)
              << cell(std::string(spool::to_string(row.stage)), 10)
              << cell(row.node.empty() ? "-" : row.node, 12) << cell(human_duration(row.age), 5)
              << cell(human_duration(row.in_state_for), 5) << detail << "\n";
  }
  std::cout << "\njobs:";
  if (by_state.empty()) std::cout << " none";
  for (const auto& [state, count] : by_state) {
    std::cout << " " << spool::to_string(state) << "=" << count;
  }
  std::cout << "\nspend (UTC): today " << usd_text(spend.today_usd)
            << (budget.daily_usd > 0 ? " of " + usd_text(budget.daily_usd) : "") << ", this month "
            << usd_text(spend.this_month_usd)
            << (budget.monthly_usd > 0 ? " of " + usd_text(budget.monthly_usd) : "") << "\n";
  const auto nodes = store.nodes();
  if (nodes.empty()) return;
  std::cout << "nodes:";
  for (const auto& node : nodes) {
    std::cout << " " << node.node << " (heartbeat " << human_duration(heartbeat_age(store, node))
              << " ago, " << node.leased_jobs << " jobs"
              << (is_silent(store, node) ? ", silent" : "") << ")";
  }
  std::cout << "\n";
}

void print_json(const spool::JobStore& store, const std::vector<spool::JobStatusRow>& rows,
                const std::map<spool::JobState, int>& by_state, const spool::SpendSummary& spend,
                const BudgetConfig& budget) {
  boost::json::array jobs;
  boost::json::object counts;
  for (const auto& [state, count] : by_state) counts[spool::to_string(state)] = count;
  for (const auto& row : rows) {
    boost::json::object job{
        {"id", row.id},
        {"name", row.name},
        {"state", spool::to_string(row.state)},
        {"stage", spool::to_string(row.stage)},
        {"age_s", row.age.count()},
        {"in_state_s", row.in_state_for.count()},
        {"attempts", row.attempts},
        {"request_id", row.request_id},
        {"reason_code", row.reason_code},
        {"message", row.message},
        {"node", row.node},
    };
    if (row.hold_reason) job["hold_reason"] = spool::to_string(*row.hold_reason);
    if (row.segments_total > 0) {
      job["segments_total"] = row.segments_total;
      job["segments_delivered"] = row.segments_delivered;
    }
    if (row.segment) {
      job["segment"] = {{"parent_id", row.segment->parent_id},
                        {"index", row.segment->index},
                        {"count", row.segment->count},
                        {"start_s", row.segment->start_s},
                        {"end_s", row.segment->end_s}};
    }
    jobs.push_back(std::move(job));
  }
  boost::json::array nodes;
  for (const auto& node : store.nodes()) {
    nodes.push_back({{"node", node.node},
                     {"heartbeat_age_s", heartbeat_age(store, node).count()},
                     {"leased_jobs", node.leased_jobs},
                     {"silent", is_silent(store, node)}});
  }
  boost::json::object root{
      {"jobs", std::move(jobs)},
      {"nodes", std::move(nodes)},
      {"counts", std::move(counts)},
      {"spend",
       {{"today_usd", json_decimal(spend.today_usd, kUsdDecimals)},
        {"this_month_usd", json_decimal(spend.this_month_usd, kUsdDecimals)},
        {"daily_cap_usd", json_decimal(budget.daily_usd, kUsdDecimals)},
        {"monthly_cap_usd", json_decimal(budget.monthly_usd, kUsdDecimals)},
        {"period", "UTC"}}},
  };
  std::cout << json_text(root) << "\n";
}

int show_status(const StatusOptions& options) {
  const auto located = locate_config_option(options.config_file);
  const auto settings = job_store_settings(located.config);
  // Safe beside a running daemon: SQLite's WAL lets readers and the writer share the store.
  const auto opened = spool::open_job_store(settings);
  spool::JobStore& store = *opened;
  const auto rows = store.status(options.recent);
  const auto by_state = store.count_by_state();
  const auto spend = store.ledger().spend(store.now());
  if (options.json) {
    print_json(store, rows, by_state, spend, located.config.budget);
  } else {
    print_table(store, rows, by_state, spend, located.config.budget);
  }
  return kExitOk;
}

}  // namespace

void register_status_command(CLI::App& app, CommandRegistry& commands) {
  auto options = std::make_shared<StatusOptions>();
  auto* status = app.add_subcommand(
      "status",
      "Show the jobs (unfinished ones and the most recent finished ones) with their state, "
      "stage, node and age, today's and this month's spend (UTC), and each node's last "
      "heartbeat. Works while the daemon (or a fleet of them) runs.");
  add_config_option(*status, options->config_file);
  status->add_flag("--json", options->json, "Print one JSON object instead of a table");
  status->add_option("--recent", options->recent, "How many finished jobs to list (default 20)");
  commands.add(status, [options] { return show_status(*options); });
}

}  // namespace lipsyncd::cli
