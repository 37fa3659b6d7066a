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

void SqliteJobStore::in_transaction(const std::function<void(Rows&)>& work) {
  // The IMMEDIATE transaction holds the write lock on the whole file: nothing it loaded can
  // change under it.
  class SqliteRows final : public Rows {
   public:
    SqliteRows(Database& database, SpendLedger& ledger) : database_(database), ledger_(ledger) {}
    std::optional<JobRecord> load(const JobId& id) override {
      return sqlite::load_job(database_, id);
    }
    std::vector<JobRecord> load_segments(const JobId& parent) override {
      return sqlite::load_segments(database_, parent);
    }
    void insert(const JobRecord& job) override { sqlite::write_job(database_, job); }
    void update(const JobRecord& job) override { sqlite::write_job(database_, job); }
    void append_event(const JobId& id, const JobEvent& event) override {
      sqlite::append_event(database_, id, event.at, event.from, event.to, event.detail);
    }
    SpendLedger& ledger() override { return ledger_; }

   private:
    Database& database_;
    SpendLedger& ledger_;
  };
  std::lock_guard lock(mutex_);
  Transaction transaction(*database_);
  SqliteRows rows(*database_, *ledger_);
  work(rows);
  transaction.commit();
}

}  // namespace lipsyncd::spool
