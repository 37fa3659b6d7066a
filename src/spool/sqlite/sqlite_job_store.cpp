// The SQLite backend's writes: opening (and migrating) the database, inserting claimed jobs,
// and running each transition as one IMMEDIATE transaction together with its ledger writes.

#include "sqlite_job_store.hpp"

#include "job_rows.hpp"
#include "schema.hpp"

namespace lipsyncd::spool {

SqliteJobStore::SqliteJobStore(JobStoreSettings settings)
    : JobStore(std::move(settings)),
      database_(sqlite::open_job_database(this->settings().state_dir / "jobs.sqlite3")),
      ledger_(std::make_unique<SqliteSpendLedger>(*database_, mutex_)) {}

SqliteJobStore::~SqliteJobStore() = default;

void SqliteJobStore::insert_claimed(const JobRecord& job, const std::string& detail) {
  std::lock_guard lock(mutex_);
  Transaction transaction(*database_);
  sqlite::write_job(*database_, job);
  sqlite::append_event(*database_, job.id, job.updated_at, std::nullopt, JobState::accepted,
                       detail);
  transaction.commit();
}

JobRecord SqliteJobStore::transition(const JobId& id, const std::string& detail,
                                     const Change& change) {
  std::lock_guard lock(mutex_);
  Transaction transaction(*database_);
  auto job = sqlite::load_job(*database_, id);
  if (!job) throw_unknown_job(id);
  const JobState from = apply_change(*job, *ledger_, change);
  sqlite::write_job(*database_, *job);
  sqlite::append_event(*database_, id, job->updated_at, from, job->state, detail);
  transaction.commit();
  return *job;
}

}  // namespace lipsyncd::spool
