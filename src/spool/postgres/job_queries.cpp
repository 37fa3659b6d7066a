// The PostgreSQL backend's reads: single jobs and their history, the lists the daemon works
// through (unfinished, due, held for the budget), and the counts behind `lipsyncd status`
// and the metrics.

#include "job_rows.hpp"
#include "postgres_job_store.hpp"
#include "time_codec.hpp"

namespace lipsyncd::spool {

using pg::kUnfinished;
using pg::load_jobs;
using pg::param;

std::optional<JobRecord> PostgresJobStore::find(const JobId& id) const {
  std::lock_guard lock(mutex_);
  return pg::load_job(*connection_, id);
}

std::vector<JobEvent> PostgresJobStore::history(const JobId& id) const {
  std::lock_guard lock(mutex_);
  const auto rows = connection_->query(
      "SELECT at, from_state, to_state, detail FROM job_events WHERE job_id = $1 ORDER BY seq", id);
  std::vector<JobEvent> events;
  for (int row = 0; row < rows.rows(); ++row) {
    JobEvent event;
    event.at = from_millis(rows.integer(row, 0));
    if (const auto from = rows.optional_text(row, 1)) event.from = parse_job_state(*from);
    event.to = parse_job_state(rows.text(row, 2)).value_or(JobState::accepted);
    event.detail = rows.text(row, 3);
    events.push_back(std::move(event));
  }
  return events;
}

std::vector<JobRecord> PostgresJobStore::unfinished() const {
  std::lock_guard lock(mutex_);
  return load_jobs(*connection_, std::string("WHERE ") + kUnfinished + " ORDER BY id");
}

std::vector<JobRecord> PostgresJobStore::unfinished_and_recently_finished(std::size_t limit) const {
  std::lock_guard lock(mutex_);
  // One statement, one snapshot: a job finishing meanwhile is listed once.
  return load_jobs(*connection_,
                   std::string("WHERE ") + kUnfinished +
                       " OR id IN (SELECT id FROM jobs WHERE NOT (" + kUnfinished +
                       ") ORDER BY updated_at DESC LIMIT $1)",
                   {param(static_cast<std::int64_t>(limit))});
}

std::vector<JobRecord> PostgresJobStore::segments_of(const JobId& parent) const {
  std::lock_guard lock(mutex_);
  return pg::load_segments(*connection_, parent);
}

std::vector<JobRecord> PostgresJobStore::due_deferred(TimePoint now) const {
  std::lock_guard lock(mutex_);
  return load_jobs(*connection_,
                   "WHERE state = 'deferred' AND next_attempt_at <= $1 ORDER BY next_attempt_at",
                   {param(to_millis(now))});
}

std::optional<TimePoint> PostgresJobStore::next_deferred_at() const {
  std::lock_guard lock(mutex_);
  const auto rows =
      connection_->query("SELECT MIN(next_attempt_at) FROM jobs WHERE state = 'deferred'");
  if (const auto millis = rows.optional_integer(0, 0)) return from_millis(*millis);
  return std::nullopt;
}

std::vector<JobRecord> PostgresJobStore::held_for_budget() const {
  std::lock_guard lock(mutex_);
  return load_jobs(*connection_, "WHERE state = 'held' AND hold_reason = 'budget' ORDER BY id");
}

std::map<JobState, int> PostgresJobStore::count_by_state(
    std::optional<TimePoint> changed_since) const {
  std::lock_guard lock(mutex_);
  const auto rows =
      changed_since ? connection_->query(
                          "SELECT state, COUNT(*) FROM jobs WHERE updated_at >= $1 GROUP BY state",
                          to_millis(*changed_since))
                    : connection_->query("SELECT state, COUNT(*) FROM jobs GROUP BY state");
  std::map<JobState, int> counts;
  for (int row = 0; row < rows.rows(); ++row) {
    if (const auto state = parse_job_state(rows.text(row, 0))) {
      counts[*state] = static_cast<int>(rows.integer(row, 1));
    }
  }
  return counts;
}

std::map<HoldReason, int> PostgresJobStore::count_held_by_reason() const {
  std::lock_guard lock(mutex_);
  const auto rows = connection_->query(
      "SELECT hold_reason, COUNT(*) FROM jobs WHERE state = 'held' GROUP BY hold_reason");
  std::map<HoldReason, int> counts;
  for (int row = 0; row < rows.rows(); ++row) {
    const auto reason = parse_hold_reason(rows.optional_text(row, 0).value_or(""));
    counts[reason.value_or(HoldReason::operator_request)] += static_cast<int>(rows.integer(row, 1));
  }
  return counts;
}

std::map<std::string, int> PostgresJobStore::count_by_reason(JobState state,
                                                             std::optional<JobState> stage) const {
  std::lock_guard lock(mutex_);
  pg::Params params{param(to_string(state))};
  if (stage) params.push_back(param(to_string(*stage)));
  const auto rows = connection_->exec(
      std::string("SELECT COALESCE(error::json ->> 'reason_code', ''), COUNT(*) FROM jobs "
                  "WHERE state = $1") +
          (stage ? " AND resume_state = $2" : "") + " GROUP BY 1",
      params);
  std::map<std::string, int> counts;
  for (int row = 0; row < rows.rows(); ++row) {
    counts[rows.text(row, 0)] += static_cast<int>(rows.integer(row, 1));
  }
  return counts;
}

std::optional<TimePoint> PostgresJobStore::oldest_unfinished_since() const {
  std::lock_guard lock(mutex_);
  const auto rows =
      connection_->query(std::string("SELECT MIN(created_at) FROM jobs WHERE ") + kUnfinished);
  if (const auto millis = rows.optional_integer(0, 0)) return from_millis(*millis);
  return std::nullopt;
}

}  // namespace lipsyncd::spool
