#pragma once
// The ledger as the SQLite `spend` table: one row per job that went to fal (its estimate
// from the submit intent, its billed amount once known), on the job store's connection.

#include <mutex>

#include "database.hpp"
#include "lipsyncd/spool/spend_ledger.hpp"

namespace lipsyncd::spool {

class SqliteSpendLedger final : public SpendLedger {
 public:
  // Shares the store's connection and lock. Reads take the lock; writes run inside the
  // store's transition, which holds it and the transaction.
  SqliteSpendLedger(Database& database, std::mutex& mutex) : database_(database), mutex_(mutex) {}

  SpendSummary spend(TimePoint now) const override;
  std::optional<BudgetBreach> reserve(const JobId& job, TimePoint at, double estimate_usd,
                                      const std::optional<BudgetConfig>& cap) override;
  void charge(const JobId& job, TimePoint at, double billed_usd) override;
  void release(const JobId& job) override;

 private:
  SpendSummary spend_unlocked(TimePoint now) const;

  Database& database_;
  std::mutex& mutex_;
};

}  // namespace lipsyncd::spool
