#pragma once
// The ledger as the PostgreSQL `spend` table, shared by every node of a fleet: one row per
// job that went to fal (its estimate from the submit intent, its billed amount once known),
// on the job store's connection.

#include <mutex>

#include "connection.hpp"
#include "lipsyncd/spool/spend_ledger.hpp"

namespace lipsyncd::spool {

class PostgresSpendLedger final : public SpendLedger {
 public:
  // Shares the store's connection and lock. Reads take the lock; writes run inside the
  // store's transition, which holds it and the transaction.
  PostgresSpendLedger(pg::Connection& connection, std::mutex& mutex)
      : connection_(connection), mutex_(mutex) {}

  SpendSummary spend(TimePoint now) const override;
  // Every reservation first takes the ledger's transaction-scoped advisory lock, so the cap
  // check and the insert of two nodes never interleave (see the .cpp).
  std::optional<BudgetBreach> reserve(const JobId& job, TimePoint at, double estimate_usd,
                                      const std::optional<BudgetConfig>& cap) override;
  void charge(const JobId& job, TimePoint at, double billed_usd) override;
  void release(const JobId& job) override;

 private:
  SpendSummary spend_unlocked(TimePoint now) const;

  pg::Connection& connection_;
  std::mutex& mutex_;
};

}  // namespace lipsyncd::spool
