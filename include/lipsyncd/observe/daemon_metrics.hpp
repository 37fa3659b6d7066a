#pragma once
// Every metric family lipsyncd exports (issue 6), created up front in one registry so the
// daemon only increments them and /metrics always lists every name, even before first use.
// Counters are counted where the thing happens; gauges that mirror the job store (jobs by
// state, blocked deliveries, the oldest job, spend and budget) are computed at scrape time by
// the daemon's collector (MetricsRegistry::add_collector), never as a side effect.

#include "lipsyncd/observe/job_event.hpp"
#include "lipsyncd/observe/metrics_registry.hpp"

namespace lipsyncd::observe {

// Default buckets for stage durations: from a fast remux to a long queue wait at fal.
std::vector<double> stage_duration_buckets();

// The label values known in advance, created at 0 so that rate() and increase() see a series
// from the first scrape (a counter that appears at 1 hides its first increase).
inline constexpr const char* kStages[] = {"prepare", "upload", "submit", "fal", "deliver"};
inline constexpr const char* kWatcherEventKinds[] = {"close_write", "moved_to",   "created_dir",
                                                     "overflow",    "scan_found", "rescan_found"};
inline constexpr const char* kBudgetPeriods[] = {"daily", "monthly"};

struct DaemonMetrics {
  explicit DaemonMetrics(MetricsRegistry& registry);

  // lipsyncd_job_events_total{event} += 1; call it beside log_event().
  void count_event(EventName event) { job_events.with({std::string(to_string(event))}).inc(); }

  GaugeFamily& jobs;                  // lipsyncd_jobs{state}: jobs in the store by state
  GaugeFamily& held_jobs;             // lipsyncd_held_jobs{reason}: held jobs by hold reason
  CounterFamily& jobs_finished;       // lipsyncd_jobs_finished_total{outcome,reason_code}
  HistogramFamily& stage_duration;    // lipsyncd_stage_duration_seconds{stage}
  Counter& uploaded_bytes;            // lipsyncd_uploaded_bytes_total
  Counter& downloaded_bytes;          // lipsyncd_downloaded_bytes_total
  CounterFamily& fal_responses;       // lipsyncd_fal_http_responses_total{operation,code}
  CounterFamily& fal_retries;         // lipsyncd_fal_retries_total{operation}
  Counter& spend_usd;                 // lipsyncd_spend_usd_total (billed estimate)
  GaugeFamily& budget_remaining_usd;  // lipsyncd_budget_remaining_usd{period="daily|monthly"}
  GaugeFamily& budget_cap_usd;        // lipsyncd_budget_cap_usd{period}: absent without a cap
  GaugeFamily& period_spend_usd;      // lipsyncd_period_spend_usd{period}: this UTC day/month
  CounterFamily& watcher_events;      // lipsyncd_watcher_events_total{kind}
  Gauge& oldest_job_age_seconds;      // lipsyncd_oldest_job_age_seconds (unfinished jobs)
  GaugeFamily& delivery_blocked;      // lipsyncd_delivery_blocked{reason_code}: paid results
                                      // waiting for the outbox (delivery_blocked, disk_full)
  CounterFamily& job_events;          // lipsyncd_job_events_total{event}: one per log_event()
  Gauge& start_time_seconds;          // lipsyncd_start_time_seconds (Unix time)
  Gauge& healthy;                     // lipsyncd_healthy: 1 when /healthz would answer 200
  // Fleet mode. This node's: the jobs it took over from a silent node.
  Counter& leases_taken_over;  // lipsyncd_leases_taken_over_total
  GaugeFamily& node_info;      // lipsyncd_node_info{node}: 1, this node's name
  // The fleet's, from the shared store (every node reports the same values).
  GaugeFamily& fleet_heartbeat_age;  // lipsyncd_fleet_heartbeat_age_seconds{node}
  GaugeFamily& fleet_leased_jobs;    // lipsyncd_fleet_leased_jobs{node}
  Gauge& fleet_expired_leases;       // lipsyncd_fleet_expired_leases: jobs no live node holds
};

}  // namespace lipsyncd::observe
