#include "lipsyncd/daemon/status_reporter.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace lipsyncd::daemon {
namespace {

using spool::JobState;

template <typename Key>
std::uint64_t count_of(const std::map<Key, int>& counts, Key key) {
  const auto it = counts.find(key);
  return it == counts.end() ? 0 : static_cast<std::uint64_t>(it->second);
}

}  // namespace

double oldest_job_age_seconds(const spool::JobStore& store) {
  const auto since = store.oldest_unfinished_since();
  if (!since) return 0;
  return std::max(0.0, std::chrono::duration<double>(store.now() - *since).count());
}

StatusReporter::StatusReporter(const spool::JobStore& store, std::function<LiveWork()> live,
                               Clock clock)
    : store_(store), live_(std::move(live)), clock_(std::move(clock)) {}

StatusReporter::StorePart StatusReporter::read_store() const {
  StorePart part;
  auto& beat = part.counts;
  try {
    const auto counts = store_.count_by_state();
    for (const auto state : {JobState::accepted, JobState::prepared, JobState::uploaded,
                             JobState::submitting, JobState::submitted, JobState::completed}) {
      part.open += count_of(counts, state);
    }
    beat.deferred = count_of(counts, JobState::deferred);
    beat.held = count_of(counts, JobState::held);
    for (const auto& [reason, held] : store_.count_held_by_reason()) {
      beat.held_by_reason[std::string(spool::to_string(reason))] = static_cast<std::uint64_t>(held);
    }
    const auto spend = store_.ledger().spend(store_.now());
    beat.spend_today_usd = spend.today_usd;
    beat.spend_month_usd = spend.this_month_usd;
    // Counted in the store, not over a page of status rows: every job finished today counts.
    const auto today = store_.count_by_state(std::chrono::floor<std::chrono::days>(store_.now()));
    beat.delivered_today = count_of(today, JobState::delivered);
    beat.failed_today = count_of(today, JobState::failed);
    beat.oldest_job_age_s = oldest_job_age_seconds(store_);
  } catch (const std::exception& e) {
    spdlog::error("cannot read the job store for the status line: {}", e.what());
  }
  return part;
}

observe::Heartbeat StatusReporter::combine(const StorePart& part, const LiveWork& live) {
  observe::Heartbeat beat = part.counts;
  beat.preparing = live.preparing;
  beat.at_fal = live.at_fal;
  const std::uint64_t working = live.preparing + live.at_fal;
  beat.queued = part.open > working ? part.open - working : 0;
  return beat;
}

observe::Heartbeat StatusReporter::heartbeat() {
  cached_ = read_store();
  fresh_until_ = clock_() + kStatusRefresh;
  return combine(cached_, live_ ? live_() : LiveWork{});
}

std::optional<std::string> StatusReporter::status_update(const Pauses& pauses) {
  if (!fresh_until_ || clock_() >= *fresh_until_) {
    cached_ = read_store();
    fresh_until_ = clock_() + kStatusRefresh;
  }
  auto line = status_text(combine(cached_, live_ ? live_() : LiveWork{}), pauses);
  if (line == last_status_) return std::nullopt;
  last_status_ = line;
  return line;
}

std::string status_text(const observe::Heartbeat& heartbeat, const Pauses& pauses) {
  auto line = observe::status_line(heartbeat);
  if (pauses.inbox_gone) line = "intake paused, inbox gone; " + line;
  if (pauses.submissions_paused) line = "submissions paused, fal refused the key; " + line;
  if (pauses.store_unreachable) line = "paused, job store unreachable; " + line;
  return line;
}

observe::HealthStatus health_of(const Pauses& pauses, bool watcher_live, bool shutting_down) {
  if (pauses.store_unreachable) {
    return {false, "job store unreachable: " + *pauses.store_unreachable};
  }
  if (pauses.inbox_gone) return {false, *pauses.inbox_gone};
  if (pauses.submissions_paused) {
    return {false,
            "submissions paused: fal refused the API key (" + *pauses.submissions_paused + ")"};
  }
  return {watcher_live && !shutting_down, watcher_live ? "watcher live" : "watcher not running"};
}

}  // namespace lipsyncd::daemon
