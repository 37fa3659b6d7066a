#pragma once
// Every metric family lipsyncd exports (issue 6), created up front in one registry so the
// daemon only increments them and /metrics always lists every name, even before first use.

#include "lipsyncd/observe/job_event.hpp"
#include "lipsyncd/observe/metrics_registry.hpp"

namespace lipsyncd::observe {

// Default buckets for stage durations: from a fast remux to a long queue wait at fal.
std::vector<double> stage_duration_buckets();

struct DaemonMetrics {
  explicit DaemonMetrics(MetricsRegistry& registry);

  // lipsyncd_job_events_total{event} += 1; call it beside log_event().
  void count_event(EventName event) { job_events.with({std::string(to_string(event))}).inc(); }

  GaugeFamily& jobs;                  // lipsyncd_jobs{state}: jobs in the store by state
  CounterFamily& jobs_finished;       // lipsyncd_jobs_finished_total{outcome,reason_code}
  HistogramFamily& stage_duration;    // lipsyncd_stage_duration_seconds{stage}
  Counter& uploaded_bytes;            // lipsyncd_uploaded_bytes_total
  Counter& downloaded_bytes;          // lipsyncd_downloaded_bytes_total
  CounterFamily& fal_responses;       // lipsyncd_fal_http_responses_total{operation,code}
  CounterFamily& fal_retries;         // lipsyncd_fal_retries_total{operation}
  Counter& spend_usd;                 // lipsyncd_spend_usd_total (billed estimate)
  GaugeFamily& budget_remaining_usd;  // lipsyncd_budget_remaining_usd{period="daily|monthly"}
  CounterFamily& watcher_events;      // lipsyncd_watcher_events_total{kind}
  Gauge& oldest_job_age_seconds;      // lipsyncd_oldest_job_age_seconds (unfinished jobs)
  GaugeFamily& delivery_blocked;      // lipsyncd_delivery_blocked{reason_code}: paid results
                                      // waiting for the outbox (delivery_blocked, disk_full)
  CounterFamily& job_events;          // lipsyncd_job_events_total{event}: one per log_event()
  Gauge& start_time_seconds;          // lipsyncd_start_time_seconds (Unix time)
};

}  // namespace lipsyncd::observe
