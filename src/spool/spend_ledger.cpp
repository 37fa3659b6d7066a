#include "lipsyncd/spool/spend_ledger.hpp"

#include <cstdio>

#include "database.hpp"
#include "time_codec.hpp"

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

TimePoint day_start(TimePoint now) {
  return floor<days>(now);
}

TimePoint month_start(TimePoint now) {
  const year_month_day date{floor<days>(now)};
  return sys_days{date.year() / date.month() / 1};
}

}  // namespace

std::string BudgetBreach::message() const {
  return period + " budget " + usd(cap_usd) + " USD: spent " + usd(spent_usd) +
         ", this job would add " + usd(cost_usd);
}

TimePoint SpendLedger::next_day_start(TimePoint now) {
  return day_start(now) + days{1};
}

TimePoint SpendLedger::next_month_start(TimePoint now) {
  const year_month_day date{floor<days>(now)};
  const auto next = date.year() / date.month() / 1 + std::chrono::months{1};
  return sys_days{next};
}

SpendSummary SpendLedger::spend(TimePoint now) const {
  std::lock_guard lock(mutex_);
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

std::optional<BudgetBreach> SpendLedger::check(const BudgetConfig& budget, double cost_usd,
                                               TimePoint now) const {
  const SpendSummary spent = spend(now);
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
