#include "lipsyncd/daemon/metrics_feed.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <tuple>

#include "lipsyncd/core/disk_error.hpp"
#include "lipsyncd/daemon/status_reporter.hpp"
#include "lipsyncd/outbox/delivery.hpp"

namespace lipsyncd::daemon {

using EventName = observe::EventName;

void count_event(observe::DaemonMetrics& metrics, const observe::JobEvent& event) {
  metrics.count_event(event.event);
  if (event.event == EventName::delivered) metrics.jobs_finished.with({"delivered", ""}).inc();
  if (event.event == EventName::failed || event.event == EventName::rejected) {
    metrics.jobs_finished.with({std::string(observe::to_string(event.event)), event.reason_code})
        .inc();
  }
  // The estimate at the endpoint + model's rate, counted when it is paid for (the submit).
  if (event.event == EventName::submitted && event.cost_usd) metrics.spend_usd.inc(*event.cost_usd);
}

void collect_fleet_gauges(observe::DaemonMetrics& metrics, const spool::JobStore& store) {
  if (!store.node().empty()) metrics.node_info.with({store.node()}).set(1);
  double held_by_silent_nodes = 0;
  for (const auto& node : store.nodes()) {
    const auto age = std::chrono::duration<double>(store.now() - node.heartbeat_at).count();
    metrics.fleet_heartbeat_age.with({node.node}).set(age);
    metrics.fleet_leased_jobs.with({node.node}).set(node.leased_jobs);
    if (age > static_cast<double>(store.lease_length().count())) {
      held_by_silent_nodes += node.leased_jobs;
    }
  }
  metrics.fleet_expired_leases.set(held_by_silent_nodes);
}

void collect_store_gauges(observe::DaemonMetrics& metrics, const spool::JobStore& store,
                          const BudgetConfig& budget, const observe::HealthStatus& health) {
  metrics.healthy.set(health.ok ? 1 : 0);
  try {
    const auto counts = store.count_by_state();
    for (const auto state : spool::kAllJobStates) {
      const auto it = counts.find(state);
      metrics.jobs.with({std::string(spool::to_string(state))})
          .set(it == counts.end() ? 0 : it->second);
    }
    const auto held = store.count_held_by_reason();
    for (const auto reason :
         {spool::HoldReason::budget, spool::HoldReason::ambiguous_submit,
          spool::HoldReason::operator_request, spool::HoldReason::duplicate_in_flight,
          spool::HoldReason::duplicate}) {
      const auto it = held.find(reason);
      metrics.held_jobs.with({std::string(spool::to_string(reason))})
          .set(it == held.end() ? 0 : it->second);
    }
    // Paid results waiting for the outbox, by reason: loud until someone fixes the disk.
    const auto blocked =
        store.count_by_reason(spool::JobState::deferred, spool::JobState::completed);
    for (const auto reason : {outbox::kDeliveryBlockedReason, std::string_view(kDiskFullReason)}) {
      const auto it = blocked.find(std::string(reason));
      metrics.delivery_blocked.with({std::string(reason)})
          .set(it == blocked.end() ? 0 : it->second);
    }
    metrics.oldest_job_age_seconds.set(oldest_job_age_seconds(store));
    const auto spend = store.ledger().spend(store.now());
    for (const auto& [period, spent, cap] :
         {std::tuple{"daily", spend.today_usd, budget.daily_usd},
          std::tuple{"monthly", spend.this_month_usd, budget.monthly_usd}}) {
      metrics.period_spend_usd.with({period}).set(spent);
      if (cap > 0) {
        metrics.budget_cap_usd.with({period}).set(cap);
        metrics.budget_remaining_usd.with({period}).set(std::max(0.0, cap - spent));
      } else {  // no cap (or removed by a reload): no series, rather than a misleading 0
        metrics.budget_cap_usd.remove({period});
        metrics.budget_remaining_usd.remove({period});
      }
    }
    collect_fleet_gauges(metrics, store);
  } catch (const std::exception& e) {
    spdlog::error("cannot read the job store for /metrics: {}", e.what());
  }
}

}  // namespace lipsyncd::daemon
