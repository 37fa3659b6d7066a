#pragma once
// What fal jobs cost, kept in the job store so an entry is written in the same transaction
// as the transition it belongs to: the estimate when the submit intent is persisted, the
// billed amount (when known) when the job completes. A job counts once, with its billed
// amount if known, else its estimate, in the period of its submit.
//
// Periods are UTC calendar days and months: the daemon may run on a server in any zone and
// fal bills in UTC, so "today" means the UTC day; `lipsyncd status` should say "UTC".

#include <chrono>
#include <mutex>
#include <optional>
#include <string>

#include "lipsyncd/config/config.hpp"
#include "lipsyncd/spool/job_record.hpp"

namespace lipsyncd::spool {

class Database;

struct SpendSummary {
  double today_usd = 0;
  double this_month_usd = 0;
};

// A cap the next job would break; empty when it fits.
struct BudgetBreach {
  std::string period;  // "daily" or "monthly"
  double cap_usd = 0;
  double spent_usd = 0;         // already spent in that period
  double cost_usd = 0;          // what the job would add
  std::string message() const;  // "daily budget 5.00 USD: spent 4.20, this job 1.40"
};

class SpendLedger {
 public:
  // Shares the store's connection and lock; JobStore owns it (see JobStore::ledger()).
  SpendLedger(Database& database, std::mutex& mutex) : database_(database), mutex_(mutex) {}

  SpendSummary spend(TimePoint now) const;
  // Caps of 0 mean "no cap". Checks the daily cap first.
  std::optional<BudgetBreach> check(const BudgetConfig& budget, double cost_usd,
                                    TimePoint now) const;
  bool would_exceed(const BudgetConfig& budget, double cost_usd, TimePoint now) const {
    return check(budget, cost_usd, now).has_value();
  }

  // When the current UTC day / month ends: the moment budget holds should be re-checked.
  static TimePoint next_day_start(TimePoint now);
  static TimePoint next_month_start(TimePoint now);

 private:
  Database& database_;
  std::mutex& mutex_;
};

}  // namespace lipsyncd::spool
