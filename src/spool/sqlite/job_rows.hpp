#pragma once
// One job as a row of the SQLite `jobs` table (structured columns as JSON, see
// job_record_codec.hpp), and its history in `job_events`. No locking, no transactions: the
// caller holds both.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "database.hpp"
#include "lipsyncd/spool/job_record.hpp"

namespace lipsyncd::spool::sqlite {

// The condition of a job that is not final, for WHERE clauses.
constexpr const char* kUnfinished = "state NOT IN ('delivered', 'failed', 'cancelled')";
// The condition of a job a node may run now: not final, not parked, or deferred and due
// (?1 = now in ms). Jobs `submitting` are included: taken over, they are held, never resent.
constexpr const char* kDue =
    "state NOT IN ('delivered', 'failed', 'cancelled', 'held') "
    "AND NOT (state = 'deferred' AND next_attempt_at > ?1)";

// Inserts or replaces the whole row.
void write_job(Database& database, const JobRecord& job);
void append_event(Database& database, const JobId& id, TimePoint at, std::optional<JobState> from,
                  JobState to, const std::string& detail);

std::optional<JobRecord> load_job(Database& database, const JobId& id);
// The jobs matching `where` (a WHERE clause with ORDER BY / LIMIT, parameters bound by `bind`).
std::vector<JobRecord> load_jobs(Database& database, const std::string& where,
                                 const std::function<void(Statement&)>& bind = {});
// A long-form job's segments, by index.
std::vector<JobRecord> load_segments(Database& database, const JobId& parent);

}  // namespace lipsyncd::spool::sqlite
