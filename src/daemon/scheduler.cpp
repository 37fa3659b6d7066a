#include "lipsyncd/daemon/scheduler.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>

namespace lipsyncd::daemon {

using spool::JobState;
using EventName = observe::EventName;

std::size_t pickup_capacity(const Config& config) {
  const auto slots = config.daemon.max_parallel_prepare + config.fal.max_in_flight;
  return static_cast<std::size_t>(std::max(8, 4 * slots));
}

namespace {

// Another process or node changed the job first (took it, cancelled it, retried it).
bool lost_to_someone_else(const Error& e) {
  return e.reason_code() == spool::kLeaseLostReason || e.reason_code() == "illegal_transition";
}

}  // namespace

std::vector<observe::JobEvent> release_budget_holds(spool::JobStore& store,
                                                    const BudgetConfig& budget) {
  std::vector<observe::JobEvent> released;
  for (const auto& job : store.held_for_budget()) {
    const double cost = job.plan ? job.plan->estimated_usd : 0;
    if (store.ledger().would_exceed(budget, cost, store.now())) continue;
    try {
      store.resume(job.id);
    } catch (const Error& e) {
      if (!lost_to_someone_else(e)) throw;
      continue;
    }
    released.push_back({.event = EventName::released,
                        .job_id = job.id,
                        .stage = JobPipeline::stage_name(job.stage()),
                        .cost_usd = cost,
                        .message = "the budget allows it now"});
  }
  return released;
}

std::vector<observe::JobEvent> release_duplicate_waits(spool::JobStore& store) {
  std::vector<observe::JobEvent> released;
  for (const auto& job : store.release_duplicate_waits()) {
    released.push_back(
        {.event = EventName::released,
         .job_id = job.id,
         .stage = JobPipeline::stage_name(JobState::accepted),
         .message = "its twin is finished: reusing its result, or going on alone if it failed"});
  }
  return released;
}

Scheduler::Scheduler(boost::asio::io_context& io, spool::JobStore& store, RunJob run_job,
                     Hooks hooks, BudgetConfig budget, std::size_t capacity)
    : io_(io),
      store_(store),
      run_job_(std::move(run_job)),
      hooks_(std::move(hooks)),
      budget_(budget),
      capacity_(capacity),
      timer_(io) {}

void Scheduler::start(const spool::JobId& id) {
  if (stopped_ || !running_.insert(id).second) return;
  boost::asio::co_spawn(io_, run_job_(id), [this, id](std::exception_ptr failure) {
    running_.erase(id);
    if (failure) {
      try {
        std::rethrow_exception(failure);
      } catch (const std::exception& e) {
        spdlog::error("job {}: pipeline stopped unexpectedly: {}", id, e.what());
      }
    }
    if (hooks_.on_job_end) hooks_.on_job_end();
  });
}

void Scheduler::pump() {
  if (stopped_) return;
  timer_.cancel();  // a pump out of turn (a reload) restarts the interval
  try {
    renew_leases_when_due();
    auto released = release_budget_holds(store_, budget_);
    for (auto& event : release_duplicate_waits(store_)) released.push_back(std::move(event));
    for (const auto& event : released) {
      if (hooks_.on_event) hooks_.on_event(event);
    }
    const std::size_t room = capacity_ > running_.size() ? capacity_ - running_.size() : 0;
    start_due(store_.take_due_jobs(room));
    if (store_problem_) spdlog::info("the job store answers again: work goes on");
    store_problem_.reset();
  } catch (const std::exception& e) {
    // Files stay where they are and jobs keep their recorded state: the next pump retries.
    if (store_problem_ != e.what()) spdlog::error("cannot use the job store: {}", e.what());
    store_problem_ = e.what();
  }
  if (hooks_.on_pumped) hooks_.on_pumped();
  schedule_pump();
}

void Scheduler::renew_leases_when_due() {
  const auto now = std::chrono::steady_clock::now();
  if (now < next_renewal_) return;
  store_.renew_leases();
  // Three renewals fit in one lease: one lost to a slow database does not lose the jobs.
  next_renewal_ = now + std::max<std::chrono::steady_clock::duration>(std::chrono::seconds(1),
                                                                      store_.lease_length() / 3);
}

void Scheduler::start_due(const spool::Pickup& pickup) {
  const auto emit = [this](const observe::JobEvent& event) {
    if (hooks_.on_event) hooks_.on_event(event);
  };
  const auto held_for_a_person = [&emit](const spool::JobRecord& held) {
    emit({.event = EventName::held,
          .job_id = held.id,
          .stage = JobPipeline::stage_name(JobState::submitting),
          .reason_code = std::string(spool::to_string(spool::HoldReason::ambiguous_submit)),
          .message = held.error ? held.error->message : "",
          .severity = observe::Severity::error});
  };
  for (const auto& [job, from] : pickup.needs_attention) held_for_a_person(job);
  for (const auto& [job, from] : pickup.taken_over) {
    emit({.event = EventName::recovered,
          .job_id = job.id,
          .stage = JobPipeline::stage_name(job.stage()),
          .request_id = job.request_id,
          .message = "taken over from node " + from + ", whose lease expired"});
    if (hooks_.on_taken_over) hooks_.on_taken_over();
  }
  for (const auto& job : pickup.due) {
    if (running_.contains(job.id)) continue;
    if (job.state == JobState::submitting) {
      // Ours, and no run of it is left: it stopped between the intent and recording fal's
      // answer (the store was unreachable). The POST may have left: a person decides.
      held_for_a_person(store_.hold_ambiguous_submit(job, "its run stopped"));
      continue;
    }
    start(job.id);
  }
}

void Scheduler::schedule_pump() {
  timer_.expires_after(kPumpInterval);
  timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) pump();
  });
}

void Scheduler::stop() {
  stopped_ = true;
  timer_.cancel();
}

}  // namespace lipsyncd::daemon
