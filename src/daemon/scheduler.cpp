#include "lipsyncd/daemon/scheduler.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>

namespace lipsyncd::daemon {

using spool::JobState;
using EventName = observe::EventName;

std::vector<spool::JobId> jobs_due(const std::vector<spool::JobRecord>& unfinished,
                                   const std::set<spool::JobId>& running, spool::TimePoint now) {
  std::vector<spool::JobId> due;
  for (const auto& job : unfinished) {
    if (running.contains(job.id)) continue;
    if (job.state == JobState::held || job.state == JobState::submitting) continue;
    if (job.state == JobState::deferred && job.next_attempt_at && *job.next_attempt_at > now) {
      continue;
    }
    due.push_back(job.id);
  }
  return due;
}

std::vector<observe::JobEvent> release_budget_holds(spool::JobStore& store,
                                                    const BudgetConfig& budget) {
  std::vector<observe::JobEvent> released;
  for (const auto& job : store.held_for_budget()) {
    const double cost = job.plan ? job.plan->estimated_usd : 0;
    if (store.ledger().would_exceed(budget, cost, store.now())) continue;
    store.resume(job.id);
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
                     Hooks hooks, BudgetConfig budget)
    : io_(io),
      store_(store),
      run_job_(std::move(run_job)),
      hooks_(std::move(hooks)),
      budget_(budget),
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
    auto released = release_budget_holds(store_, budget_);
    for (auto& event : release_duplicate_waits(store_)) released.push_back(std::move(event));
    for (const auto& event : released) {
      if (hooks_.on_event) hooks_.on_event(event);
    }
    for (const auto& id : jobs_due(store_.unfinished(), running_, store_.now())) start(id);
  } catch (const std::exception& e) {
    spdlog::error("cannot read the job store: {}", e.what());
  }
  if (hooks_.on_pumped) hooks_.on_pumped();
  schedule_pump();
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
