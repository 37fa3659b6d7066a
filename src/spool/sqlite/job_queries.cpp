// The SQLite backend's reads: single jobs and their history, the lists the daemon works
// through (unfinished, due, held for the budget), and the counts behind `lipsyncd status`
// and the metrics.

#include "job_rows.hpp"
#include "sqlite_job_store.hpp"
#include "time_codec.hpp"

namespace lipsyncd::spool {

using sqlite::kUnfinished;
using sqlite::load_jobs;

std::optional<JobRecord> SqliteJobStore::find(const JobId& id) const {
  std::lock_guard lock(mutex_);
  return sqlite::load_job(*database_, id);
}

std::vector<JobEvent> SqliteJobStore::history(const JobId& id) const {
  std::lock_guard lock(mutex_);
  auto query = database_->prepare(
      "SELECT at, from_state, to_state, detail FROM job_events WHERE job_id = ?1 ORDER BY seq");
  query.bind(1, id);
  std::vector<JobEvent> events;
  while (query.step()) {
    JobEvent event;
    event.at = from_millis(query.integer(0));
    if (const auto from = query.optional_text(1)) event.from = parse_job_state(*from);
    event.to = parse_job_state(query.text(2)).value_or(JobState::accepted);
    event.detail = query.text(3);
    events.push_back(std::move(event));
  }
  return events;
}

std::vector<JobRecord> SqliteJobStore::unfinished() const {
  std::lock_guard lock(mutex_);
  return load_jobs(*database_, std::string("WHERE ") + kUnfinished + " ORDER BY id");
}

std::vector<JobRecord> SqliteJobStore::unfinished_and_recently_finished(std::size_t limit) const {
  std::lock_guard lock(mutex_);
  auto jobs = load_jobs(*database_, std::string("WHERE ") + kUnfinished + " ORDER BY id");
  auto finished = load_jobs(
      *database_, std::string("WHERE NOT (") + kUnfinished + ") ORDER BY updated_at DESC LIMIT ?1",
      [&](Statement& query) { query.bind(1, static_cast<std::int64_t>(limit)); });
  jobs.insert(jobs.end(), finished.begin(), finished.end());
  return jobs;
}

std::vector<JobRecord> SqliteJobStore::segments_of(const JobId& parent) const {
  std::lock_guard lock(mutex_);
  return sqlite::load_segments(*database_, parent);
}

std::vector<JobRecord> SqliteJobStore::due_deferred(TimePoint now) const {
  std::lock_guard lock(mutex_);
  return load_jobs(*database_,
                   "WHERE state = 'deferred' AND next_attempt_at <= ?1 ORDER BY next_attempt_at",
                   [&](Statement& query) { query.bind(1, to_millis(now)); });
}

std::optional<TimePoint> SqliteJobStore::next_deferred_at() const {
  std::lock_guard lock(mutex_);
  auto query = database_->prepare("SELECT MIN(next_attempt_at) FROM jobs WHERE state = 'deferred'");
  query.step();
  if (const auto millis = query.optional_integer(0)) return from_millis(*millis);
  return std::nullopt;
}

std::vector<JobRecord> SqliteJobStore::held_for_budget() const {
  std::lock_guard lock(mutex_);
  return load_jobs(*database_, "WHERE state = 'held' AND hold_reason = 'budget' ORDER BY id");
}

std::map<JobState, int> SqliteJobStore::count_by_state(
    std::optional<TimePoint> changed_since) const {
  std::lock_guard lock(mutex_);
  auto query = database_->prepare(
      changed_since ? "SELECT state, COUNT(*) FROM jobs WHERE updated_at >= ?1 GROUP BY state"
                    : "SELECT state, COUNT(*) FROM jobs GROUP BY state");
  if (changed_since) query.bind(1, to_millis(*changed_since));
  std::map<JobState, int> counts;
  while (query.step()) {
    if (const auto state = parse_job_state(query.text(0))) {
      counts[*state] = static_cast<int>(query.integer(1));
    }
  }
  return counts;
}

std::map<HoldReason, int> SqliteJobStore::count_held_by_reason() const {
  std::lock_guard lock(mutex_);
  auto query = database_->prepare(
      "SELECT hold_reason, COUNT(*) FROM jobs WHERE state = 'held' GROUP BY hold_reason");
  std::map<HoldReason, int> counts;
  while (query.step()) {
    const auto reason = parse_hold_reason(query.optional_text(0).value_or(""));
    counts[reason.value_or(HoldReason::operator_request)] += static_cast<int>(query.integer(1));
  }
  return counts;
}

std::map<std::string, int> SqliteJobStore::count_by_reason(JobState state,
                                                           std::optional<JobState> stage) const {
  std::lock_guard lock(mutex_);
  auto query = database_->prepare(
      std::string("SELECT COALESCE(json_extract(error, '$.reason_code'), ''), COUNT(*) FROM jobs "
                  "WHERE state = ?1") +
      (stage ? " AND resume_state = ?2" : "") + " GROUP BY 1");
  query.bind(1, std::string(to_string(state)));
  if (stage) query.bind(2, std::string(to_string(*stage)));
  std::map<std::string, int> counts;
  while (query.step()) counts[query.text(0)] += static_cast<int>(query.integer(1));
  return counts;
}

std::optional<TimePoint> SqliteJobStore::oldest_unfinished_since() const {
  std::lock_guard lock(mutex_);
  auto query =
      database_->prepare(std::string("SELECT MIN(created_at) FROM jobs WHERE ") + kUnfinished);
  query.step();
  if (const auto millis = query.optional_integer(0)) return from_millis(*millis);
  return std::nullopt;
}

}  // namespace lipsyncd::spool
