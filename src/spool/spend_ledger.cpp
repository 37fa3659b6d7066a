// The backend-independent part of the ledger: periods, the cap rule and its wording. The
// SQLite ledger is sqlite/sqlite_spend_ledger.cpp.

#include "lipsyncd/spool/spend_ledger.hpp"

#include <cstdio>

namespace lipsyncd::spool {
namespace {

using std::chrono::days;
using std::chrono::floor;
using std::chrono::sys_days;
using std::chrono::year_month_day;

// Tolerance for sums of floating-point dollars: a job that exactly fills the cap fits.
constexpr double kCentFraction = 1e-6;

std::string usd(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f", value);
  return text;
}

}  // namespace

std::string BudgetBreach::message() const {
  return period + " budget " + usd(cap_usd) + " USD: spent " + usd(spent_usd) +
         ", this job would add " + usd(cost_usd);
}

BudgetExceeded::BudgetExceeded(BudgetBreach breach)
    : Error("budget_exceeded", breach.message(),
            "the job waits until the period rolls over or the cap is raised (reload)",
            Permanence::transient),
      breach_(std::move(breach)) {}

TimePoint SpendLedger::day_start(TimePoint now) {
  return floor<days>(now);
}

TimePoint SpendLedger::month_start(TimePoint now) {
  const year_month_day date{floor<days>(now)};
  return sys_days{date.year() / date.month() / 1};
}

TimePoint SpendLedger::next_day_start(TimePoint now) {
  return day_start(now) + days{1};
}

TimePoint SpendLedger::next_month_start(TimePoint now) {
  const year_month_day date{floor<days>(now)};
  const auto next = date.year() / date.month() / 1 + std::chrono::months{1};
  return sys_days{next};
}

std::optional<BudgetBreach> SpendLedger::breach_of(const SpendSummary& spent,
                                                   const BudgetConfig& budget, double cost_usd) {
  if (budget.daily_usd > 0 && spent.today_usd + cost_usd > budget.daily_usd + kCentFraction) {
    return BudgetBreach{"daily", budget.daily_usd, spent.today_usd, cost_usd};
  }
  if (budget.monthly_usd > 0 &&
      spent.this_month_usd + cost_usd > budget.monthly_usd + kCentFraction) {
    return BudgetBreach{"monthly", budget.monthly_usd, spent.this_month_usd, cost_usd};
  }
  return std::nullopt;
}

}  // namespace lipsyncd::spool
