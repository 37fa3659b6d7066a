#pragma once
// Which jobs run when. A job runs as one coroutine on the loop, at most once at a time; the
// pump looks at the store every kPumpInterval for work nobody started: deferred jobs that are
// due, budget holds that fit again, duplicates whose twin is finished, jobs that
// `lipsyncd retry` (another process) sent back, and, in a fleet, the jobs of a node whose
// lease expired. It takes them under this node's lease and renews its leases as it goes.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "lipsyncd/config/config.hpp"
#include "lipsyncd/daemon/job_pipeline.hpp"
#include "lipsyncd/spool/job_store.hpp"

namespace lipsyncd::daemon {

inline constexpr std::chrono::milliseconds kPumpInterval{500};

// How many jobs the pump takes beyond those running (the pipeline's prepare and fal slots,
// with room to queue): the rest stay for the other nodes of a fleet.
std::size_t pickup_capacity(const Config& config);

// Resumes the budget holds whose estimate fits under the caps now; one `released` event each.
std::vector<observe::JobEvent> release_budget_holds(spool::JobStore& store,
                                                    const BudgetConfig& budget);
// Releases the jobs that waited for a twin that is finished now; one `released` event each.
std::vector<observe::JobEvent> release_duplicate_waits(spool::JobStore& store);

class Scheduler {
 public:
  using RunJob = std::function<boost::asio::awaitable<void>(spool::JobId)>;
  struct Hooks {
    EventSink on_event;                   // the `released` events
    std::function<void()> on_job_end;     // a job run returned: the store has changed
    std::function<void()> on_pumped;      // after each pump
    std::function<void()> on_taken_over;  // a job of a silent node was taken over
  };

  Scheduler(boost::asio::io_context& io, spool::JobStore& store, RunJob run_job, Hooks hooks,
            BudgetConfig budget, std::size_t capacity);

  // SIGHUP: holds are checked against the new caps from the next pump on.
  void set_budget(const BudgetConfig& budget) { budget_ = budget; }
  void set_capacity(std::size_t capacity) { capacity_ = capacity; }
  // Runs the job unless it runs already or the scheduler is stopped.
  void start(const spool::JobId& id);
  // Looks at the store now, then every kPumpInterval.
  void pump();
  // No job starts and no pump follows after this; running jobs finish on their own.
  void stop();
  std::size_t running() const noexcept { return running_.size(); }
  // Why the last pump could not read or write the job store; empty when it could.
  const std::optional<std::string>& store_problem() const noexcept { return store_problem_; }

 private:
  void schedule_pump();
  void renew_leases_when_due();
  void start_due(const spool::Pickup& pickup);

  boost::asio::io_context& io_;
  spool::JobStore& store_;
  RunJob run_job_;
  Hooks hooks_;
  BudgetConfig budget_;
  std::size_t capacity_;
  std::chrono::steady_clock::time_point next_renewal_{};
  boost::asio::steady_timer timer_;
  std::set<spool::JobId> running_;
  bool stopped_ = false;
  std::optional<std::string> store_problem_;
};

}  // namespace lipsyncd::daemon
