// The spend ledger, on every job store backend: estimates at submit, billed amounts at
// completion, UTC days and months, and the budget check (also inside the submit intent's
// transaction, where two stores racing for the last dollar cannot both pass).

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>

#include "job_store_backends.hpp"
#include "lipsyncd/spool/job_store.hpp"
#include "test_media.hpp"

namespace lipsyncd::spool {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono;

TimePoint utc(int y, unsigned m, unsigned d, int hour, int minute = 0) {
  return sys_days{year{y} / month{m} / day{d}} + hours(hour) + minutes(minute);
}

class SpendLedgerTest : public testing::TestWithParam<test::JobStoreBackend> {
 protected:
  SpendLedgerTest() : store_(open_store()) { fs::create_directories(dir_ / "inbox"); }

  std::unique_ptr<JobStore> open_store() {
    return GetParam().open(
        JobStoreSettings{dir_ / "state", "lipsync-1.9.0-beta", [this] { return now_; }});
  }

  // A job submitted now with this estimate; returns its id.
  JobId submit(double estimated_usd) {
    const auto id = uploaded(estimated_usd);
    store_->mark_submitting(id, "fal-ai/sync-lipsync");
    return id;
  }

  // A job ready to submit, with this estimate; returns its id.
  JobId uploaded(double estimated_usd) {
    JobRequest request;
    request.name = "clip" + std::to_string(++count_);
    request.video = dir_ / "inbox" / (request.name + ".mp4");
    request.audio = dir_ / "inbox" / (request.name + ".wav");
    std::ofstream(request.video) << "v";
    std::ofstream(request.audio) << "a";
    const auto id = store_->claim(request).job.id;
    JobPlan plan;
    plan.estimated_usd = estimated_usd;
    store_->mark_prepared(id, plan);
    store_->mark_uploaded(id, {});
    return id;
  }

  test::TempDir dir_;
  TimePoint now_ = utc(2026, 11, 25, 23, 30);
  std::unique_ptr<JobStore> store_;
  int count_ = 0;
};

INSTANTIATE_TEST_SUITE_P(Backends, SpendLedgerTest, testing::ValuesIn(test::job_store_backends()),
                         test::backend_name);

TEST_P(SpendLedgerTest, EstimatesCountFromTheSubmitIntentAndBilledAmountsReplaceThem) {
  EXPECT_DOUBLE_EQ(store_->ledger().spend(now_).today_usd, 0);
  const auto id = submit(1.40);
  EXPECT_DOUBLE_EQ(store_->ledger().spend(now_).today_usd, 1.40);
  store_->mark_submitted(id, "req");
  store_->mark_completed(id, {"https://out", 1, 1.05, std::nullopt});
  const SpendSummary spent = store_->ledger().spend(now_);
  EXPECT_DOUBLE_EQ(spent.today_usd, 1.05);
  EXPECT_DOUBLE_EQ(spent.this_month_usd, 1.05);
}

TEST_P(SpendLedgerTest, ASubmitThatNeverLeftOrWasRefusedCostsNothing) {
  const auto deferred = submit(1.0);
  store_->defer(deferred, {"submit", "connect_failed", "no route", ""}, now_);
  const auto refused = submit(2.0);
  store_->fail(refused, {"submit", "fal_rejected", "422", ""});
  EXPECT_DOUBLE_EQ(store_->ledger().spend(now_).today_usd, 0);
}

TEST_P(SpendLedgerTest, ASubmittedJobThatIsResubmittedCountsOnce) {
  const auto id = submit(0.5);
  store_->hold(id, HoldReason::ambiguous_submit, "crash");
  EXPECT_DOUBLE_EQ(store_->ledger().spend(now_).today_usd, 0.5);  // may have been billed
  store_->retry(id);
  store_->mark_submitting(id, "fal-ai/sync-lipsync");
  EXPECT_DOUBLE_EQ(store_->ledger().spend(now_).today_usd, 0.5);
}

TEST_P(SpendLedgerTest, DaysAndMonthsAreUtcCalendarPeriods) {
  submit(1.0);  // 2026-11-25 23:30 UTC
  now_ = utc(2026, 11, 26, 0, 10);
  submit(2.0);
  SpendSummary spent = store_->ledger().spend(now_);
  EXPECT_DOUBLE_EQ(spent.today_usd, 2.0);
  EXPECT_DOUBLE_EQ(spent.this_month_usd, 3.0);

  now_ = utc(2026, 12, 1, 0, 0);
  spent = store_->ledger().spend(now_);
  EXPECT_DOUBLE_EQ(spent.today_usd, 0);
  EXPECT_DOUBLE_EQ(spent.this_month_usd, 0);
  // Looking back still works: the ledger is queried by period, not reset.
  spent = store_->ledger().spend(utc(2026, 11, 30, 12));
  EXPECT_DOUBLE_EQ(spent.this_month_usd, 3.0);

  EXPECT_EQ(SpendLedger::next_day_start(utc(2026, 11, 25, 23, 30)), utc(2026, 11, 26, 0));
  EXPECT_EQ(SpendLedger::next_month_start(utc(2026, 12, 31, 23, 59)), utc(2027, 1, 1, 0));
}

TEST_P(SpendLedgerTest, BudgetCheckNamesTheCapThatWouldBeBroken) {
  submit(4.20);
  BudgetConfig budget;
  EXPECT_FALSE(store_->ledger().would_exceed(budget, 1000, now_));  // 0 = no cap

  budget.daily_usd = 5.0;
  EXPECT_FALSE(store_->ledger().would_exceed(budget, 0.80, now_));  // exactly fills the cap
  const auto breach = store_->ledger().check(budget, 1.40, now_);
  ASSERT_TRUE(breach);
  EXPECT_EQ(breach->period, "daily");
  EXPECT_DOUBLE_EQ(breach->spent_usd, 4.20);
  EXPECT_EQ(breach->message(), "daily budget 5.00 USD: spent 4.20, this job would add 1.40");

  budget.daily_usd = 0;
  budget.monthly_usd = 5.0;
  now_ = utc(2026, 11, 26, 9);  // a new day, the same month
  const auto monthly = store_->ledger().check(budget, 1.40, now_);
  ASSERT_TRUE(monthly);
  EXPECT_EQ(monthly->period, "monthly");
  now_ = utc(2026, 12, 1, 0);
  EXPECT_FALSE(store_->ledger().would_exceed(budget, 1.40, now_));
}

TEST_P(SpendLedgerTest, ASubmitIntentWithACapReservesOnlyWhatFits) {
  BudgetConfig budget;
  budget.daily_usd = 5.0;
  submit(4.20);
  const auto too_dear = uploaded(1.40);
  try {
    store_->mark_submitting(too_dear, "fal-ai/sync-lipsync", budget);
    ADD_FAILURE() << "a submit intent broke the daily cap";
  } catch (const BudgetExceeded& e) {
    EXPECT_EQ(e.reason_code(), "budget_exceeded");
    EXPECT_EQ(e.breach().period, "daily");
    EXPECT_DOUBLE_EQ(e.breach().spent_usd, 4.20);
  }
  // Nothing changed: no reservation, the job still waits to be submitted.
  EXPECT_DOUBLE_EQ(store_->ledger().spend(now_).today_usd, 4.20);
  EXPECT_EQ(store_->get(too_dear).state, JobState::uploaded);
  EXPECT_FALSE(store_->get(too_dear).submit_intent);

  const auto fits = uploaded(0.80);  // exactly fills the cap
  EXPECT_EQ(store_->mark_submitting(fits, "fal-ai/sync-lipsync", budget).state,
            JobState::submitting);
  EXPECT_DOUBLE_EQ(store_->ledger().spend(now_).today_usd, 5.0);
}

TEST_P(SpendLedgerTest, StoresRacingForTheLastDollarCannotBothReserveIt) {
  // Two connections (two processes, or fleet nodes), several threads each, twelve jobs of
  // 1 USD against a cap with 3 USD left: the check and the reservation are one transaction,
  // so exactly three get through.
  BudgetConfig budget;
  budget.daily_usd = 5.0;
  submit(2.0);
  std::vector<JobId> ready;
  for (int i = 0; i < 12; ++i) ready.push_back(uploaded(1.0));
  auto other = open_store();
  std::atomic<int> reserved = 0;
  std::atomic<int> refused = 0;
  std::atomic<int> failures = 0;
  test::race_on_two_stores(*store_, *other, ready.size(), [&](JobStore& store, std::size_t i) {
    try {
      store.mark_submitting(ready[i], "fal-ai/sync-lipsync", budget);
      ++reserved;
    } catch (const BudgetExceeded&) {
      ++refused;
    } catch (const Error&) {
      ++failures;
    }
  });
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(reserved, 3);
  EXPECT_EQ(refused, 9);
  EXPECT_DOUBLE_EQ(store_->ledger().spend(now_).today_usd, 5.0);
}

}  // namespace
}  // namespace lipsyncd::spool
