#pragma once
// The job store on SQLite: one database file (jobs.sqlite3, WAL, synchronous=FULL) in the
// state folder, one connection per store, one lock around it. Several stores (the daemon and
// `lipsyncd status|retry|cancel`) may open the same file: writes are IMMEDIATE transactions.

#include <memory>
#include <mutex>

#include "database.hpp"
#include "lipsyncd/spool/job_store.hpp"
#include "sqlite_spend_ledger.hpp"

namespace lipsyncd::spool {

class SqliteJobStore final : public JobStore {
 public:
  explicit SqliteJobStore(JobStoreSettings settings);
  ~SqliteJobStore() override;

  // ── queries (job_queries.cpp) ──
  std::optional<JobRecord> find(const JobId& id) const override;
  std::vector<JobEvent> history(const JobId& id) const override;
  std::vector<JobRecord> unfinished() const override;
  std::vector<JobRecord> due_deferred(TimePoint now) const override;
  std::optional<TimePoint> next_deferred_at() const override;
  std::vector<JobRecord> held_for_budget() const override;
  std::map<JobState, int> count_by_state(std::optional<TimePoint> changed_since) const override;
  std::map<HoldReason, int> count_held_by_reason() const override;
  std::map<std::string, int> count_by_reason(JobState state,
                                             std::optional<JobState> stage) const override;
  std::optional<TimePoint> oldest_unfinished_since() const override;
  std::vector<JobRecord> segments_of(const JobId& parent) const override;

  // ── the duplicate guard (duplicate_guard.cpp) ──
  std::optional<JobRecord> find_delivered_duplicate(const std::string& content_hash,
                                                    std::chrono::seconds window,
                                                    const JobId& except) const override;
  ContentClaim claim_content(const JobId& id, std::chrono::seconds window) override;

  const SpendLedger& ledger() const override { return *ledger_; }

  // ── fleet mode (sqlite_leases.cpp): one host, but the same rules ──
  std::vector<NodeHeartbeat> nodes() const override;

 protected:
  JobRecord transition(const JobId& id, const std::string& detail, const Change& change) override;
  void in_transaction(const std::function<void(Rows&)>& work) override;
  void insert_claimed(const JobRecord& job, const std::string& detail) override;
  std::vector<JobRecord> duplicate_waits_without_twin() const override;
  std::vector<JobRecord> unfinished_and_recently_finished(std::size_t limit) const override;
  bool reserve_claim_key(const std::string& key, const JobId& id, TimePoint now,
                         TimePoint forget_before) override;
  std::vector<LeasedJob> lease_due_jobs(const std::string& node, TimePoint now,
                                        TimePoint expires_at, std::size_t take_limit) override;
  void write_heartbeat(const std::string& node, TimePoint now, TimePoint expires_at,
                       TimePoint started_at) override;

 private:
  mutable std::mutex mutex_;  // first: the ledger shares it
  std::unique_ptr<Database> database_;
  std::unique_ptr<SqliteSpendLedger> ledger_;
};

}  // namespace lipsyncd::spool
