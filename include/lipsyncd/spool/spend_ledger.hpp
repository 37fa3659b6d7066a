#pragma once
// What fal jobs cost, kept in the job store so an entry is written in the same transaction
// as the transition it belongs to: the estimate when the submit intent is persisted, the
// billed amount (when known) when the job completes. A job counts once, with its billed
// amount if known, else its estimate, in the period of its submit.
//
// Periods are UTC calendar days and months: the daemon may run on a server in any zone and
// fal bills in UTC, so "today" means the UTC day; `lipsyncd status` should say "UTC".

#include <chrono>
#include <optional>
#include <string>

#include "lipsyncd/config/config.hpp"
#include "lipsyncd/core/error.hpp"
#include "lipsyncd/spool/job_record.hpp"

namespace lipsyncd::spool {

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

// The cap `reserve()` found broken; nothing was reserved. Thrown by
// JobStore::mark_submitting() and start_segments() with a cap, inside their transaction
// (which rolls back).
class BudgetExceeded : public Error {
 public:
  explicit BudgetExceeded(BudgetBreach breach);
  const BudgetBreach& breach() const noexcept { return breach_; }

 private:
  BudgetBreach breach_;
};

// One per job store backend, sharing its connection: reads for anyone (JobStore::ledger() is
// const), writes only from inside the store's transitions, in their transaction.
class SpendLedger {
 public:
  virtual ~SpendLedger() = default;

  virtual SpendSummary spend(TimePoint now) const = 0;
  // Caps of 0 mean "no cap". Checks the daily cap first.
  std::optional<BudgetBreach> check(const BudgetConfig& budget, double cost_usd,
                                    TimePoint now) const {
    return breach_of(spend(now), budget, cost_usd);
  }
  bool would_exceed(const BudgetConfig& budget, double cost_usd, TimePoint now) const {
    return check(budget, cost_usd, now).has_value();
  }

  // ── writes: called by the store inside the transition that causes them ────────────────
  // The submit intent's estimate, counted from `at`; replaces the entry of an earlier,
  // ambiguous attempt (a job counts once). With a `cap`, checks it first against what the
  // ledger holds in this same transaction: on a breach nothing is written and the breach is
  // returned.
  virtual std::optional<BudgetBreach> reserve(const JobId& job, TimePoint at, double estimate_usd,
                                              const std::optional<BudgetConfig>& cap) = 0;
  // fal's billed amount replaces the estimate (inserted at `at` if the job had no entry).
  virtual void charge(const JobId& job, TimePoint at, double billed_usd) = 0;
  // The POST never left or fal refused it: the job costs nothing.
  virtual void release(const JobId& job) = 0;

  // When the current UTC day / month began (what today's and this month's spend count
  // from) and when it ends (the moment budget holds should be re-checked).
  static TimePoint day_start(TimePoint now);
  static TimePoint month_start(TimePoint now);
  static TimePoint next_day_start(TimePoint now);
  static TimePoint next_month_start(TimePoint now);

 protected:
  SpendLedger() = default;
  // The cap `cost_usd` would break on top of `spent`; daily first.
  static std::optional<BudgetBreach> breach_of(const SpendSummary& spent,
                                               const BudgetConfig& budget, double cost_usd);
};

}  // namespace lipsyncd::spool
