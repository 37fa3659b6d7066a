#include "sqlite_spend_ledger.hpp"

#include "time_codec.hpp"

namespace lipsyncd::spool {

SpendSummary SqliteSpendLedger::spend(TimePoint now) const {
  std::lock_guard lock(mutex_);
  return spend_unlocked(now);
}

SpendSummary SqliteSpendLedger::spend_unlocked(TimePoint now) const {
  auto query = database_.prepare(
      "SELECT COALESCE(SUM(CASE WHEN submitted_at >= ?1 THEN COALESCE(billed_usd, "
      "estimated_usd) ELSE 0 END), 0), COALESCE(SUM(COALESCE(billed_usd, estimated_usd)), 0) "
      "FROM spend WHERE submitted_at >= ?2 AND submitted_at < ?3");
  query.bind(1, to_millis(day_start(now)))
      .bind(2, to_millis(month_start(now)))
      .bind(3, to_millis(next_month_start(now)));
  query.step();
  return SpendSummary{query.real(0), query.real(1)};
}

std::optional<BudgetBreach> SqliteSpendLedger::reserve(const JobId& job, TimePoint at,
                                                       double estimate_usd,
                                                       const std::optional<BudgetConfig>& cap) {
  // Read inside the caller's IMMEDIATE transaction: no other writer can reserve between this
  // check and the insert.
  if (cap) {
    if (auto breach = breach_of(spend_unlocked(at), *cap, estimate_usd)) return breach;
  }
  database_
      .prepare(
          "INSERT OR REPLACE INTO spend (job_id, submitted_at, estimated_usd, billed_usd) "
          "VALUES (?1, ?2, ?3, NULL)")
      .bind(1, job)
      .bind(2, to_millis(at))
      .bind(3, estimate_usd)
      .run();
  return std::nullopt;
}

void SqliteSpendLedger::charge(const JobId& job, TimePoint at, double billed_usd) {
  database_
      .prepare(
          "INSERT INTO spend (job_id, submitted_at, estimated_usd, billed_usd) "
          "VALUES (?1, ?2, ?3, ?3) ON CONFLICT(job_id) DO UPDATE SET billed_usd = ?3")
      .bind(1, job)
      .bind(2, to_millis(at))
      .bind(3, billed_usd)
      .run();
}

void SqliteSpendLedger::release(const JobId& job) {
  database_.prepare("DELETE FROM spend WHERE job_id = ?1").bind(1, job).run();
}

}  // namespace lipsyncd::spool
