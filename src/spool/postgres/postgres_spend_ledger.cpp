#include "postgres_spend_ledger.hpp"

#include "time_codec.hpp"

namespace lipsyncd::spool {
namespace {

// pg_advisory_xact_lock() key of the ledger (an arbitrary constant: "lipsyncd" + 2).
constexpr std::int64_t kLedgerLockKey = 7308330541925302018;

}  // namespace

SpendSummary PostgresSpendLedger::spend(TimePoint now) const {
  std::lock_guard lock(mutex_);
  return spend_unlocked(now);
}

SpendSummary PostgresSpendLedger::spend_unlocked(TimePoint now) const {
  const auto sums = connection_.query(
      "SELECT COALESCE(SUM(CASE WHEN submitted_at >= $1 THEN COALESCE(billed_usd, "
      "estimated_usd) ELSE 0 END), 0), COALESCE(SUM(COALESCE(billed_usd, estimated_usd)), 0) "
      "FROM spend WHERE submitted_at >= $2 AND submitted_at < $3",
      to_millis(SpendLedger::day_start(now)), to_millis(SpendLedger::month_start(now)),
      to_millis(SpendLedger::next_month_start(now)));
  return SpendSummary{sums.real(0, 0), sums.real(0, 1)};
}

std::optional<BudgetBreach> PostgresSpendLedger::reserve(const JobId& job, TimePoint at,
                                                         double estimate_usd,
                                                         const std::optional<BudgetConfig>& cap) {
  // Why an advisory lock: under READ COMMITTED two nodes could both sum the ledger, both see
  // room for one more job and both insert. The lock (held until this transaction commits or
  // rolls back, fleet-wide because it lives in the server) makes check + insert one critical
  // section; each statement after it sees every reservation committed before, since a holder
  // commits before its lock is released. Cheaper than SERIALIZABLE, which would make callers
  // retry, and than a lock row, which needs no row to exist. Uncapped reservations take it
  // too, so a capped check never misses one in flight.
  connection_.query("SELECT pg_advisory_xact_lock($1)", kLedgerLockKey);
  if (cap) {
    if (auto breach = breach_of(spend_unlocked(at), *cap, estimate_usd)) return breach;
  }
  connection_.query(
      "INSERT INTO spend (job_id, submitted_at, estimated_usd, billed_usd) "
      "VALUES ($1, $2, $3, NULL) ON CONFLICT (job_id) DO UPDATE SET "
      "submitted_at = EXCLUDED.submitted_at, estimated_usd = EXCLUDED.estimated_usd, "
      "billed_usd = NULL",
      job, to_millis(at), estimate_usd);
  return std::nullopt;
}

void PostgresSpendLedger::charge(const JobId& job, TimePoint at, double billed_usd) {
  connection_.query(
      "INSERT INTO spend (job_id, submitted_at, estimated_usd, billed_usd) "
      "VALUES ($1, $2, $3, $3) ON CONFLICT (job_id) DO UPDATE SET billed_usd = $3",
      job, to_millis(at), billed_usd);
}

void PostgresSpendLedger::release(const JobId& job) {
  connection_.query("DELETE FROM spend WHERE job_id = $1", job);
}

}  // namespace lipsyncd::spool
