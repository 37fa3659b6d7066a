#pragma once
// The job store on PostgreSQL (fleet mode, `[store] url`): one database shared by every node,
// one connection per store (reconnected after an outage), one lock around it. Every change is
// one READ COMMITTED transaction that reads the job's row FOR UPDATE, so two nodes (or a node
// and `lipsyncd retry`) changing the same job take turns; decisions that span several rows
// (the budget, the duplicate guard) take an advisory lock first. The spool folders stay in
// the state folder (JobStore).

#include <memory>
#include <mutex>

#include "connection.hpp"
#include "lipsyncd/spool/job_store.hpp"
#include "postgres_spend_ledger.hpp"

namespace lipsyncd::spool {

class PostgresJobStore final : public JobStore {
 public:
  // Connects to settings.url and migrates the schema (see postgres/schema.hpp). Throws
  // "bad_config", "store_unreachable", "store_too_new" or "store_error".
  explicit PostgresJobStore(JobStoreSettings settings);
  ~PostgresJobStore() override;

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

  // ── fleet mode (postgres_leases.cpp) ──
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
  mutable std::mutex mutex_;                    // first: the ledger shares it
  std::unique_ptr<pg::Connection> connection_;  // connects again by itself after an outage
  std::unique_ptr<PostgresSpendLedger> ledger_;
};

}  // namespace lipsyncd::spool
