// The SQLite backend's share of fleet mode: claim keys, the pickup of due jobs with their
// leases, and heartbeats. One host uses them too; the IMMEDIATE transaction is the arbiter
// between the daemon and any other process on the same file.

#include "job_rows.hpp"
#include "sqlite_job_store.hpp"
#include "time_codec.hpp"

namespace lipsyncd::spool {

bool SqliteJobStore::reserve_claim_key(const std::string& key, const JobId& id, TimePoint now,
                                       TimePoint forget_before) {
  std::lock_guard lock(mutex_);
  Transaction transaction(*database_);
  database_->prepare("DELETE FROM claim_keys WHERE claimed_at < ?1")
      .bind(1, to_millis(forget_before))
      .run();
  auto insert = database_->prepare(
      "INSERT INTO claim_keys (key, job_id, claimed_at) VALUES (?1, ?2, ?3) "
      "ON CONFLICT (key) DO NOTHING");
  insert.bind(1, key).bind(2, id).bind(3, to_millis(now)).run();
  const bool reserved = database_->changes() > 0;
  transaction.commit();
  return reserved;
}

std::vector<LeasedJob> SqliteJobStore::lease_due_jobs(const std::string& node, TimePoint now,
                                                      TimePoint expires_at,
                                                      std::size_t take_limit) {
  std::lock_guard lock(mutex_);
  Transaction transaction(*database_);
  std::vector<LeasedJob> leased;
  for (auto& job : sqlite::load_jobs(
           *database_, std::string("WHERE ") + sqlite::kDue + " AND lease_node = ?2 ORDER BY id",
           [&](Statement& query) { query.bind(1, to_millis(now)).bind(2, node); })) {
    leased.push_back({std::move(job), node});
  }
  for (auto& job : sqlite::load_jobs(
           *database_,
           std::string("WHERE ") + sqlite::kDue +
               " AND lease_node <> ?2 AND (lease_node = '' OR lease_expires_at IS NULL OR "
               "lease_expires_at <= ?1) ORDER BY id LIMIT ?3",
           [&](Statement& query) {
             query.bind(1, to_millis(now))
                 .bind(2, node)
                 .bind(3, static_cast<std::int64_t>(take_limit));
           })) {
    const std::string previous = job.lease.node;
    job.lease = {node, job.lease.token + 1, expires_at};
    sqlite::write_job(*database_, job);
    leased.push_back({std::move(job), previous});
  }
  transaction.commit();
  return leased;
}

void SqliteJobStore::write_heartbeat(const std::string& node, TimePoint now, TimePoint expires_at,
                                     TimePoint started_at) {
  std::lock_guard lock(mutex_);
  Transaction transaction(*database_);
  database_->prepare("UPDATE jobs SET lease_expires_at = ?2 WHERE lease_node = ?1")
      .bind(1, node)
      .bind(2, to_millis(expires_at))
      .run();
  database_
      ->prepare(
          "INSERT INTO nodes (node, heartbeat_at, started_at) VALUES (?1, ?2, ?3) "
          "ON CONFLICT (node) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, "
          "started_at = excluded.started_at")
      .bind(1, node)
      .bind(2, to_millis(now))
      .bind(3, to_millis(started_at))
      .run();
  transaction.commit();
}

std::vector<NodeHeartbeat> SqliteJobStore::nodes() const {
  std::lock_guard lock(mutex_);
  auto query = database_->prepare(
      "SELECT n.node, n.heartbeat_at, n.started_at, "
      "(SELECT COUNT(*) FROM jobs j WHERE j.lease_node = n.node) FROM nodes n ORDER BY n.node");
  std::vector<NodeHeartbeat> nodes;
  while (query.step()) {
    nodes.push_back({query.text(0), from_millis(query.integer(1)), from_millis(query.integer(2)),
                     static_cast<int>(query.integer(3))});
  }
  return nodes;
}

}  // namespace lipsyncd::spool
