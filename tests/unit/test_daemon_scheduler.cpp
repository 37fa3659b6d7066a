// The scheduler: which jobs the pump starts, the holds it releases, and that a job never runs
// twice at once.

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "daemon_test_store.hpp"
#include "lipsyncd/daemon/scheduler.hpp"

namespace lipsyncd::daemon {
namespace {

using namespace std::chrono_literals;
using spool::JobState;

spool::JobRecord job(const std::string& id, JobState state) {
  spool::JobRecord record;
  record.id = id;
  record.state = state;
  return record;
}

TEST(SchedulerJobsDue, SkipsRunningHeldSubmittingAndNotYetDueJobs) {
  const auto now = std::chrono::system_clock::now();
  auto later = job("later", JobState::deferred);
  later.next_attempt_at = now + 10s;
  auto due = job("due", JobState::deferred);
  due.next_attempt_at = now - 1s;
  const std::vector<spool::JobRecord> unfinished = {job("new", JobState::accepted),
                                                    job("busy", JobState::prepared),
                                                    job("held", JobState::held),
                                                    job("maybe", JobState::submitting),
                                                    later,
                                                    due,
                                                    job("polled", JobState::submitted)};
  EXPECT_EQ(jobs_due(unfinished, {"busy"}, now),
            (std::vector<spool::JobId>{"new", "due", "polled"}));
}

TEST(SchedulerReleases, BudgetHoldsResumeOnlyWhenTheyFitUnderTheCap) {
  test_support::TestStore t;
  const auto cheap = t.prepared("cheap", 1.0);
  const auto dear = t.prepared("dear", 5.0);
  t.store->hold(cheap, spool::HoldReason::budget, "over the cap");
  t.store->hold(dear, spool::HoldReason::budget, "over the cap");
  const auto events = release_budget_holds(*t.store, BudgetConfig{.daily_usd = 2.0});
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].job_id, cheap);
  EXPECT_EQ(events[0].event, observe::EventName::released);
  EXPECT_EQ(events[0].stage, "upload");
  EXPECT_EQ(events[0].cost_usd, 1.0);
  EXPECT_EQ(t.store->get(cheap).state, JobState::prepared);
  EXPECT_EQ(t.store->get(dear).state, JobState::held);
  EXPECT_TRUE(release_duplicate_waits(*t.store).empty());
}

class SchedulerTest : public ::testing::Test {
 protected:
  // A job run that waits for `release` to be cancelled, so two starts overlap.
  boost::asio::awaitable<void> fake_run(spool::JobId id) {
    runs.push_back(id);
    co_await release.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  }

  test_support::TestStore t;
  boost::asio::io_context io;
  boost::asio::steady_timer release{io, std::chrono::hours(1)};
  std::vector<spool::JobId> runs;
  int job_ends = 0;
  int pumps = 0;
  Scheduler scheduler{
      io, *t.store, [this](spool::JobId id) { return fake_run(std::move(id)); },
      Scheduler::Hooks{
          .on_event = {}, .on_job_end = [this] { ++job_ends; }, .on_pumped = [this] { ++pumps; }},
      BudgetConfig{}};
};

TEST_F(SchedulerTest, AJobRunsOnceAtATimeAndThePumpStartsWhatIsDue) {
  const auto a = t.claim("a");
  const auto b = t.claim("b");
  scheduler.start(a);
  scheduler.start(a);  // intake and the pump may both ask
  io.poll();
  scheduler.pump();
  io.poll();
  EXPECT_EQ(runs, (std::vector<spool::JobId>{a, b}));
  EXPECT_EQ(scheduler.running(), 2u);
  EXPECT_EQ(pumps, 1);
  release.cancel();
  io.poll();
  EXPECT_EQ(scheduler.running(), 0u);
  EXPECT_EQ(job_ends, 2);
}

TEST_F(SchedulerTest, NothingStartsAfterStop) {
  const auto a = t.claim("a");
  scheduler.stop();
  scheduler.start(a);
  scheduler.pump();
  io.poll();
  EXPECT_TRUE(runs.empty());
  EXPECT_EQ(pumps, 0);
}

TEST_F(SchedulerTest, ThePumpComesBackEveryInterval) {
  scheduler.pump();
  io.run_for(kPumpInterval + 200ms);
  EXPECT_EQ(pumps, 2);
  scheduler.stop();
}

}  // namespace
}  // namespace lipsyncd::daemon
