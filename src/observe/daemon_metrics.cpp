#include "lipsyncd/observe/daemon_metrics.hpp"

#include <chrono>

namespace lipsyncd::observe {

std::vector<double> stage_duration_buckets() {
  return {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600};
}

DaemonMetrics::DaemonMetrics(MetricsRegistry& registry)
    : jobs(registry.gauge("lipsyncd_jobs", "Jobs in the job store by state.", {"state"})),
      held_jobs(registry.gauge(
          "lipsyncd_held_jobs",
          "Held jobs by hold reason: ambiguous_submit, duplicate and operator_request wait for "
          "a person; budget for the next period or a higher cap; duplicate_in_flight for its "
          "twin to finish.",
          {"reason"})),
      jobs_finished(registry.counter(
          "lipsyncd_jobs_finished_total",
          "Jobs that reached a final state in this daemon, by outcome (delivered, failed, "
          "rejected) and reason code (empty when delivered).",
          {"outcome", "reason_code"})),
      stage_duration(registry.histogram("lipsyncd_stage_duration_seconds",
                                        "Time a job spent in each stage.", {"stage"},
                                        stage_duration_buckets())),
      uploaded_bytes(
          registry
              .counter("lipsyncd_uploaded_bytes_total",
                       "Bytes sent to fal, headers included (mostly the uploaded inputs).")
              .with({})),
      downloaded_bytes(
          registry
              .counter("lipsyncd_downloaded_bytes_total",
                       "Bytes received from fal, headers included (mostly the results).")
              .with({})),
      fal_responses(registry.counter("lipsyncd_fal_http_responses_total",
                                     "HTTP responses from fal by operation and status code.",
                                     {"operation", "code"})),
      fal_retries(registry.counter("lipsyncd_fal_retries_total",
                                   "Requests to fal retried after a transient failure.",
                                   {"operation"})),
      spend_usd(registry
                    .counter("lipsyncd_spend_usd_total",
                             "Money committed at fal in US dollars (estimated at submit).")
                    .with({})),
      budget_remaining_usd(registry.gauge(
          "lipsyncd_budget_remaining_usd",
          "Budget left in the current period in US dollars; absent when the period has no cap.",
          {"period"})),
      budget_cap_usd(registry.gauge(
          "lipsyncd_budget_cap_usd",
          "The budget cap of the period in US dollars ([budget] daily_usd, monthly_usd); absent "
          "when the period has no cap.",
          {"period"})),
      period_spend_usd(registry.gauge(
          "lipsyncd_period_spend_usd",
          "Money committed at fal in the current UTC day (daily) or month (monthly), in US "
          "dollars, from the job store's spend ledger (survives restarts).",
          {"period"})),
      watcher_events(registry.counter(
          "lipsyncd_watcher_events_total",
          "What the inbox watcher noticed, by kind: close_write, moved_to, created_dir, "
          "overflow (events lost), scan_found (new file found by the scan at start), "
          "rescan_found (new file only the periodic rescan found: no event told of it).",
          {"kind"})),
      oldest_job_age_seconds(registry
                                 .gauge("lipsyncd_oldest_job_age_seconds",
                                        "Age of the oldest unfinished job (0 when idle).")
                                 .with({})),
      delivery_blocked(registry.gauge(
          "lipsyncd_delivery_blocked",
          "Jobs whose paid result waits in the spool because it cannot be delivered, by reason "
          "code: delivery_blocked (outbox/ or done/ not writable, read-only, immutable or "
          "missing) or disk_full. Anything above 0 needs a person.",
          {"reason_code"})),
      job_events(registry.counter("lipsyncd_job_events_total",
                                  "Job events logged, by event name (see the Monitoring "
                                  "section of the README).",
                                  {"event"})),
      start_time_seconds(registry
                             .gauge("lipsyncd_start_time_seconds",
                                    "When the daemon started, in seconds since the Unix epoch.")
                             .with({})),
      healthy(registry
                  .gauge("lipsyncd_healthy",
                         "1 when GET /healthz answers 200 (the inbox watcher is live), else 0.")
                  .with({})),
      leases_taken_over(registry
                            .counter("lipsyncd_leases_taken_over_total",
                                     "Jobs this node took over because the node holding them "
                                     "went silent for [fleet] lease_s.")
                            .with({})),
      node_info(registry.gauge("lipsyncd_node_info",
                               "Always 1; the node label is this daemon's [fleet] node.",
                               {"node"})),
      fleet_heartbeat_age(registry.gauge(
          "lipsyncd_fleet_heartbeat_age_seconds",
          "Seconds since each node of the fleet last renewed its leases (the shared store's "
          "view; a node above [fleet] lease_s is considered dead).",
          {"node"})),
      fleet_leased_jobs(registry.gauge("lipsyncd_fleet_leased_jobs",
                                       "Jobs each node of the fleet holds now.", {"node"})),
      fleet_expired_leases(registry
                               .gauge("lipsyncd_fleet_expired_leases",
                                      "Unfinished jobs whose holder's lease expired and that no "
                                      "node took over yet.")
                               .with({})) {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  start_time_seconds.set(std::chrono::duration<double>(now).count());
  for (const char* stage : kStages) stage_duration.with({stage});
  for (const char* kind : kWatcherEventKinds) watcher_events.with({kind});
  jobs_finished.with({"delivered", ""});
}

}  // namespace lipsyncd::observe
