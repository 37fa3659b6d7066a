// The PostgreSQL backend's share of fleet mode: claim keys (the primary key arbitrates between
// nodes), the pickup of due jobs with FOR UPDATE SKIP LOCKED (two nodes never take the same
// job, and neither waits for the other), and heartbeats.

#include "job_rows.hpp"
#include "postgres_job_store.hpp"
#include "time_codec.hpp"

namespace lipsyncd::spool {

using pg::param;

bool PostgresJobStore::reserve_claim_key(const std::string& key, const JobId& id, TimePoint now,
                                         TimePoint forget_before) {
  std::lock_guard lock(mutex_);
  pg::Transaction transaction(*connection_);
  connection_->query("DELETE FROM claim_keys WHERE claimed_at < $1", to_millis(forget_before));
  const auto inserted = connection_->query(
      "INSERT INTO claim_keys (key, job_id, claimed_at) VALUES ($1, $2, $3) "
      "ON CONFLICT (key) DO NOTHING RETURNING job_id",
      key, id, to_millis(now));
  transaction.commit();
  return inserted.rows() == 1;
}

std::vector<LeasedJob> PostgresJobStore::lease_due_jobs(const std::string& node, TimePoint now,
                                                        TimePoint expires_at,
                                                        std::size_t take_limit) {
  std::lock_guard lock(mutex_);
  pg::Transaction transaction(*connection_);
  std::vector<LeasedJob> leased;
  for (auto& job : pg::load_jobs(
           *connection_, std::string("WHERE ") + pg::kDue + " AND lease_node = $2 ORDER BY id",
           {param(to_millis(now)), param(node)})) {
    leased.push_back({std::move(job), node});
  }
  // Rows another node is taking right now are skipped, not waited for: it gets them.
  for (auto& job : pg::load_jobs(
           *connection_,
           std::string("WHERE ") + pg::kDue +
               " AND lease_node <> $2 AND (lease_node = '' OR lease_expires_at IS NULL OR "
               "lease_expires_at <= $1) ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED",
           {param(to_millis(now)), param(node), param(static_cast<std::int64_t>(take_limit))})) {
    const std::string previous = job.lease.node;
    job.lease = {node, job.lease.token + 1, expires_at};
    pg::update_job(*connection_, job);
    leased.push_back({std::move(job), previous});
  }
  transaction.commit();
  return leased;
}

void PostgresJobStore::write_heartbeat(const std::string& node, TimePoint now, TimePoint expires_at,
                                       TimePoint started_at) {
  std::lock_guard lock(mutex_);
  pg::Transaction transaction(*connection_);
  // Locked in id order, as a long-form job's transaction locks its rows: no deadlock.
  connection_->query(
      "UPDATE jobs SET lease_expires_at = $2 WHERE id IN (SELECT id FROM jobs WHERE "
      "lease_node = $1 ORDER BY id FOR UPDATE)",
      node, to_millis(expires_at));
  connection_->query(
      "INSERT INTO nodes (node, heartbeat_at, started_at) VALUES ($1, $2, $3) "
      "ON CONFLICT (node) DO UPDATE SET heartbeat_at = EXCLUDED.heartbeat_at, "
      "started_at = EXCLUDED.started_at",
      node, to_millis(now), to_millis(started_at));
  transaction.commit();
}

std::vector<NodeHeartbeat> PostgresJobStore::nodes() const {
  std::lock_guard lock(mutex_);
  const auto rows = connection_->query(
      "SELECT n.node, n.heartbeat_at, n.started_at, "
      "(SELECT COUNT(*) FROM jobs j WHERE j.lease_node = n.node) FROM nodes n "
      "ORDER BY n.node COLLATE \"C\"");
  std::vector<NodeHeartbeat> nodes;
  for (int row = 0; row < rows.rows(); ++row) {
    nodes.push_back({rows.text(row, 0), from_millis(rows.integer(row, 1)),
                     from_millis(rows.integer(row, 2)), static_cast<int>(rows.integer(row, 3))});
  }
  return nodes;
}

}  // namespace lipsyncd::spool
