// The spend ledger: estimates at submit, billed amounts at completion, UTC days and months,
// and the budget check the daemon runs before submitting.

#include <gtest/gtest.h>

#include <fstream>

#include "lipsyncd/spool/job_store.hpp"
#include "test_media.hpp"

namespace lipsyncd::spool {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono;

TimePoint utc(int y, unsigned m, unsigned d, int hour, int minute = 0) {
  return sys_days{year{y} / month{m} / day{d}} + hours(hour) + minutes(minute);
}

class SpendLedgerTest : public testing::Test {
 protected:
  SpendLedgerTest()
      : store_(JobStoreSettings{dir_ / "state", "lipsync-1.9.0-beta", [this] { return now_; }}) {
    fs::create_directories(dir_ / "inbox");
  }

  // A job submitted now with this estimate; returns its id.
  JobId submit(double estimated_usd) {
    JobRequest request;
    request.name = "clip" + std::to_string(++count_);
    request.video = dir_ / "inbox" / (request.name + ".mp4");
    request.audio = dir_ / "inbox" / (request.name + ".wav");
    std::ofstream(request.video) << "v";
    std::ofstream(request.audio) << "a";
    const auto id = store_.claim(request).job.id;
    JobPlan plan;
    plan.estimated_usd = estimated_usd;
    store_.mark_prepared(id, plan);
    store_.mark_uploaded(id, {});
    store_.mark_submitting(id, "fal-ai/sync-lipsync");
    return id;
  }

  test::TempDir dir_;
  TimePoint now_ = utc(2026, 11, 25, 23, 30);
  JobStore store_;
  int count_ = 0;
};

TEST_F(SpendLedgerTest, EstimatesCountFromTheSubmitIntentAndBilledAmountsReplaceThem) {
  EXPECT_DOUBLE_EQ(store_.ledger().spend(now_).today_usd, 0);
  const auto id = submit(1.40);
  EXPECT_DOUBLE_EQ(store_.ledger().spend(now_).today_usd, 1.40);
  store_.mark_submitted(id, "req");
  store_.mark_completed(id, {"https://out", 1, 1.05, std::nullopt});
  const SpendSummary spent = store_.ledger().spend(now_);
  EXPECT_DOUBLE_EQ(spent.today_usd, 1.05);
  EXPECT_DOUBLE_EQ(spent.this_month_usd, 1.05);
}

TEST_F(SpendLedgerTest, ASubmitThatNeverLeftOrWasRefusedCostsNothing) {
  const auto deferred = submit(1.0);
  store_.defer(deferred, {"submit", "connect_failed", "no route", ""}, now_);
  const auto refused = submit(2.0);
  store_.fail(refused, {"submit", "fal_rejected", "422", ""});
  EXPECT_DOUBLE_EQ(store_.ledger().spend(now_).today_usd, 0);
}

TEST_F(SpendLedgerTest, ASubmittedJobThatIsResubmittedCountsOnce) {
  const auto id = submit(0.5);
  store_.hold(id, HoldReason::ambiguous_submit, "crash");
  EXPECT_DOUBLE_EQ(store_.ledger().spend(now_).today_usd, 0.5);  // may have been billed
  store_.retry(id);
  store_.mark_submitting(id, "fal-ai/sync-lipsync");
  EXPECT_DOUBLE_EQ(store_.ledger().spend(now_).today_usd, 0.5);
}

TEST_F(SpendLedgerTest, DaysAndMonthsAreUtcCalendarPeriods) {
  submit(1.0);  // 2026-11-25 23:30 UTC
  now_ = utc(2026, 11, 26, 0, 10);
  submit(2.0);
  SpendSummary spent = store_.ledger().spend(now_);
  EXPECT_DOUBLE_EQ(spent.today_usd, 2.0);
  EXPECT_DOUBLE_EQ(spent.this_month_usd, 3.0);

  now_ = utc(2026, 12, 1, 0, 0);
  spent = store_.ledger().spend(now_);
  EXPECT_DOUBLE_EQ(spent.today_usd, 0);
  EXPECT_DOUBLE_EQ(spent.this_month_usd, 0);
  // Looking back still works: the ledger is queried by period, not reset.
  spent = store_.ledger().spend(utc(2026, 11, 30, 12));
  EXPECT_DOUBLE_EQ(spent.this_month_usd, 3.0);

  EXPECT_EQ(SpendLedger::next_day_start(utc(2026, 11, 25, 23, 30)), utc(2026, 11, 26, 0));
  EXPECT_EQ(SpendLedger::next_month_start(utc(2026, 12, 31, 23, 59)), utc(2027, 1, 1, 0));
}

TEST_F(SpendLedgerTest, BudgetCheckNamesTheCapThatWouldBeBroken) {
  submit(4.20);
  BudgetConfig budget;
  EXPECT_FALSE(store_.ledger().would_exceed(budget, 1000, now_));  // 0 = no cap

  budget.daily_usd = 5.0;
  EXPECT_FALSE(store_.ledger().would_exceed(budget, 0.80, now_));  // exactly fills the cap
  const auto breach = store_.ledger().check(budget, 1.40, now_);
  ASSERT_TRUE(breach);
  EXPECT_EQ(breach->period, "daily");
  EXPECT_DOUBLE_EQ(breach->spent_usd, 4.20);
  EXPECT_EQ(breach->message(), "daily budget 5.00 USD: spent 4.20, this job would add 1.40");

  budget.daily_usd = 0;
  budget.monthly_usd = 5.0;
  now_ = utc(2026, 11, 26, 9);  // a new day, the same month
  const auto monthly = store_.ledger().check(budget, 1.40, now_);
  ASSERT_TRUE(monthly);
  EXPECT_EQ(monthly->period, "monthly");
  now_ = utc(2026, 12, 1, 0);
  EXPECT_FALSE(store_.ledger().would_exceed(budget, 1.40, now_));
}

}  // namespace
}  // namespace lipsyncd::spool
