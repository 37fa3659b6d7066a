#pragma once
// One job as a row of the PostgreSQL `jobs` table (structured columns as JSON text, see
// job_record_codec.hpp), and its history in `job_events`. No locking, no transactions: the
// caller holds both.

#include <optional>
#include <string>
#include <vector>

#include "connection.hpp"
#include "lipsyncd/spool/job_record.hpp"

namespace lipsyncd::spool::pg {

// The condition of a job that is not final, for WHERE clauses.
constexpr const char* kUnfinished = "state NOT IN ('delivered', 'failed', 'cancelled')";
// The condition of a job a node may run now ($1 = now in ms): see sqlite/job_rows.hpp.
constexpr const char* kDue =
    "state NOT IN ('delivered', 'failed', 'cancelled', 'held') "
    "AND NOT (state = 'deferred' AND next_attempt_at > $1)";

// A freshly claimed job (a row left by an earlier attempt at the same claim is replaced).
void insert_job(Connection& connection, const JobRecord& job);
// Writes the whole record, its lease (as the transition settled it) included.
void update_job(Connection& connection, const JobRecord& job);
void append_event(Connection& connection, const JobId& id, TimePoint at,
                  std::optional<JobState> from, JobState to, const std::string& detail);

enum class RowLock { none, for_update };
std::optional<JobRecord> load_job(Connection& connection, const JobId& id,
                                  RowLock lock = RowLock::none);
// The jobs matching `where` (a WHERE clause with ORDER BY / LIMIT and $1.. placeholders).
std::vector<JobRecord> load_jobs(Connection& connection, const std::string& where,
                                 const Params& params = {});
// A long-form job's segments, by index.
std::vector<JobRecord> load_segments(Connection& connection, const JobId& parent,
                                     RowLock lock = RowLock::none);

}  // namespace lipsyncd::spool::pg
