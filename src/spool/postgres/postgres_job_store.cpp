// The PostgreSQL backend's writes: connecting (and migrating), inserting claimed jobs, and
// running each transition as one transaction, the job's row locked FOR UPDATE, together with
// its ledger writes.

#include "postgres_job_store.hpp"

#include "job_rows.hpp"
#include "schema.hpp"

namespace lipsyncd::spool {

PostgresJobStore::PostgresJobStore(JobStoreSettings settings)
    : JobStore(std::move(settings)),
      connection_(std::make_unique<pg::Connection>(this->settings().url,
                                                   this->settings().node.empty()
                                                       ? std::string("lipsyncd")
                                                       : "lipsyncd " + this->settings().node)),
      ledger_(std::make_unique<PostgresSpendLedger>(*connection_, mutex_)) {
  pg::migrate(*connection_);
}

PostgresJobStore::~PostgresJobStore() = default;

void PostgresJobStore::insert_claimed(const JobRecord& job, const std::string& detail) {
  std::lock_guard lock(mutex_);
  pg::Transaction transaction(*connection_);
  pg::insert_job(*connection_, job);
  pg::append_event(*connection_, job.id, job.updated_at, std::nullopt, JobState::accepted, detail);
  transaction.commit();
}

JobRecord PostgresJobStore::transition(const JobId& id, const std::string& detail,
                                       const Change& change) {
  std::lock_guard lock(mutex_);
  pg::Transaction transaction(*connection_);
  auto job = pg::load_job(*connection_, id, pg::RowLock::for_update);
  if (!job) throw_unknown_job(id);
  const JobState from = apply_change(*job, *ledger_, change);
  pg::update_job(*connection_, *job);
  pg::append_event(*connection_, id, job->updated_at, from, job->state, detail);
  transaction.commit();
  return *job;
}

void PostgresJobStore::in_transaction(const std::function<void(Rows&)>& work) {
  // Every job loaded is locked FOR UPDATE until the commit; a parent before its segments
  // (its id is their prefix), as every multi-row lock here is taken in id order.
  class PostgresRows final : public Rows {
   public:
    PostgresRows(pg::Connection& connection, SpendLedger& ledger)
        : connection_(connection), ledger_(ledger) {}
    std::optional<JobRecord> load(const JobId& id) override {
      return pg::load_job(connection_, id, pg::RowLock::for_update);
    }
    std::vector<JobRecord> load_segments(const JobId& parent) override {
      return pg::load_segments(connection_, parent, pg::RowLock::for_update);
    }
    void insert(const JobRecord& job) override { pg::insert_job(connection_, job); }
    void update(const JobRecord& job) override { pg::update_job(connection_, job); }
    void append_event(const JobId& id, const JobEvent& event) override {
      pg::append_event(connection_, id, event.at, event.from, event.to, event.detail);
    }
    SpendLedger& ledger() override { return ledger_; }

   private:
    pg::Connection& connection_;
    SpendLedger& ledger_;
  };
  std::lock_guard lock(mutex_);
  pg::Transaction transaction(*connection_);
  PostgresRows rows(*connection_, *ledger_);
  work(rows);
  transaction.commit();
}

}  // namespace lipsyncd::spool
