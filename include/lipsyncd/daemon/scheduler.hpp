#pragma once
// Which jobs run when. A job runs as one coroutine on the loop, at most once at a time; the
// pump looks at the store every kPumpInterval for work nobody started: deferred jobs that are
// due, budget holds that fit again, duplicates whose twin is finished, and jobs that
// `lipsyncd retry` (another process) sent back.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <set>
#include <vector>

#include "lipsyncd/config/config.hpp"
#include "lipsyncd/daemon/job_pipeline.hpp"
#include "lipsyncd/spool/job_store.hpp"

namespace lipsyncd::daemon {

inline constexpr std::chrono::milliseconds kPumpInterval{500};

// The unfinished jobs the pump should start: not running already, not parked for a person
// (held) or for recovery (submitting), and not deferred to a later time.
std::vector<spool::JobId> jobs_due(const std::vector<spool::JobRecord>& unfinished,
                                   const std::set<spool::JobId>& running, spool::TimePoint now);

// Resumes the budget holds whose estimate fits under the caps now; one `released` event each.
std::vector<observe::JobEvent> release_budget_holds(spool::JobStore& store,
                                                    const BudgetConfig& budget);
// Releases the jobs that waited for a twin that is finished now; one `released` event each.
std::vector<observe::JobEvent> release_duplicate_waits(spool::JobStore& store);

class Scheduler {
 public:
  using RunJob = std::function<boost::asio::awaitable<void>(spool::JobId)>;
  struct Hooks {
    EventSink on_event;                // the `released` events
    std::function<void()> on_job_end;  // a job run returned: the store has changed
    std::function<void()> on_pumped;   // after each pump
  };

  Scheduler(boost::asio::io_context& io, spool::JobStore& store, RunJob run_job, Hooks hooks,
            BudgetConfig budget);

  // SIGHUP: holds are checked against the new caps from the next pump on.
  void set_budget(const BudgetConfig& budget) { budget_ = budget; }
  // Runs the job unless it runs already or the scheduler is stopped.
  void start(const spool::JobId& id);
  // Looks at the store now, then every kPumpInterval.
  void pump();
  // No job starts and no pump follows after this; running jobs finish on their own.
  void stop();
  std::size_t running() const noexcept { return running_.size(); }

 private:
  void schedule_pump();

  boost::asio::io_context& io_;
  spool::JobStore& store_;
  RunJob run_job_;
  Hooks hooks_;
  BudgetConfig budget_;
  boost::asio::steady_timer timer_;
  std::set<spool::JobId> running_;
  bool stopped_ = false;
};

}  // namespace lipsyncd::daemon
