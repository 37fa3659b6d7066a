#pragma once
// What the daemon says about itself: the heartbeat (logged every heartbeat_s), the one-line
// sd_notify STATUS= text and the /healthz verdict. It only reads: no metric is written here.
//
// The heartbeat's store part (counts by state and hold reason, today's outcomes, the spend, the
// oldest job) costs about six aggregate queries. The STATUS= line is refreshed after every pump
// (500 ms) and every finished job run, so it reuses the store part until something in the
// daemon says the store changed (invalidate()) or kStatusRefresh has passed, which covers what
// other processes (`lipsyncd retry`, `cancel`) and the clock (a new UTC day) change. What the
// pipeline is doing right now (preparing, at fal) is read live every time.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "lipsyncd/observe/heartbeat.hpp"
#include "lipsyncd/observe/metrics_server.hpp"
#include "lipsyncd/spool/job_store.hpp"

namespace lipsyncd::daemon {

// The longest the STATUS= line may reuse the store's numbers without a known change.
inline constexpr std::chrono::seconds kStatusRefresh{2};

// Jobs the pipeline is working on at this moment.
struct LiveWork {
  std::uint64_t preparing = 0;
  std::uint64_t at_fal = 0;
};

// Why the daemon is not doing all of its work, said first on the STATUS= line and by /healthz.
struct Pauses {
  std::optional<std::string> inbox_gone;          // the watcher's reason, when intake paused
  std::optional<std::string> submissions_paused;  // "fal_auth, job J" when fal refused the key
  std::optional<std::string> store_unreachable;   // why the last pump could not use the store
};

class StatusReporter {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  StatusReporter(
      const spool::JobStore& store, std::function<LiveWork()> live,
      Clock clock = [] { return std::chrono::steady_clock::now(); });

  // Straight from the store: the heartbeat log line and READY=1 use this.
  observe::Heartbeat heartbeat();
  // The store changed (a job event, a job run started or ended, a hold released).
  void invalidate() noexcept { fresh_until_.reset(); }
  // The STATUS= text when it differs from the one returned last, else nothing.
  std::optional<std::string> status_update(const Pauses& pauses);

 private:
  struct StorePart {
    observe::Heartbeat counts;  // everything but preparing, at_fal and queued
    std::uint64_t open = 0;     // jobs in a working state (accepted ... completed)
  };
  StorePart read_store() const;
  static observe::Heartbeat combine(const StorePart& part, const LiveWork& live);

  const spool::JobStore& store_;
  std::function<LiveWork()> live_;
  Clock clock_;
  StorePart cached_;
  std::optional<std::chrono::steady_clock::time_point> fresh_until_;
  std::string last_status_;
};

// Seconds since the oldest unfinished job (held and deferred ones included) was taken; 0 when
// there is none. The heartbeat and the lipsyncd_oldest_job_age_seconds gauge both say it.
double oldest_job_age_seconds(const spool::JobStore& store);

// The STATUS= text: the pauses first, then the heartbeat's summary.
std::string status_text(const observe::Heartbeat& heartbeat, const Pauses& pauses);

// /healthz: unhealthy while intake or submissions are paused, the job store (a fleet's
// database) cannot be reached, or the watcher is not running.
observe::HealthStatus health_of(const Pauses& pauses, bool watcher_live, bool shutting_down);

}  // namespace lipsyncd::daemon
