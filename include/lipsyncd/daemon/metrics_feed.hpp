#pragma once
// What the daemon feeds its Prometheus metrics: each job event as it happens, and at each
// scrape the gauges that mirror the job store (a handful of aggregate queries, so a scrape
// never walks the jobs one by one). Nothing else writes these families.

#include "lipsyncd/config/config.hpp"
#include "lipsyncd/observe/daemon_metrics.hpp"
#include "lipsyncd/observe/job_event.hpp"
#include "lipsyncd/observe/metrics_server.hpp"
#include "lipsyncd/spool/job_store.hpp"

namespace lipsyncd::daemon {

// The event counter, a job's final outcome (once: the daemon is the only one that delivers,
// fails or rejects) and the spend, counted at the submit as the spend ledger counts it.
void count_event(observe::DaemonMetrics& metrics, const observe::JobEvent& event);

// Fleet mode's gauges from the shared store: each node's heartbeat age and leased jobs, the
// jobs held by silent nodes, and this node's name.
void collect_fleet_gauges(observe::DaemonMetrics& metrics, const spool::JobStore& store);

// The store's gauges: jobs by state and hold reason, blocked deliveries, the oldest job, the
// period spend and what is left of each budget cap; and whether /healthz would say 200.
void collect_store_gauges(observe::DaemonMetrics& metrics, const spool::JobStore& store,
                          const BudgetConfig& budget, const observe::HealthStatus& health);

}  // namespace lipsyncd::daemon
