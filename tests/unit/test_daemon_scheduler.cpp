// The scheduler: which jobs the pump starts, the holds it releases, and that a job never runs
// twice at once.

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <set>

#include "daemon_test_store.hpp"
#include "lipsyncd/daemon/scheduler.hpp"

namespace lipsyncd::daemon {
namespace {

using namespace std::chrono_literals;
using spool::JobState;

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
      io,
      *t.store,
      [this](spool::JobId id) { return fake_run(std::move(id)); },
      Scheduler::Hooks{
          .on_event = [this](const observe::JobEvent& event) { events.push_back(event); },
          .on_job_end = [this] { ++job_ends; },
          .on_pumped = [this] { ++pumps; },
          .on_taken_over = [this] { ++taken_over; }},
      BudgetConfig{},
      4};
  std::vector<observe::JobEvent> events;
  int taken_over = 0;
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

TEST_F(SchedulerTest, ThePumpSkipsHeldAndNotYetDueJobs) {
  const auto held = t.claim("held");
  t.store->hold(held, spool::HoldReason::operator_request, "wait");
  const auto later = t.claim("later");
  t.store->defer(later, {"upload", "fal_unavailable", "503", ""}, t.now + 10s);
  const auto due = t.claim("due");
  t.store->defer(due, {"upload", "fal_unavailable", "503", ""}, t.now - 1s);
  const auto polled = t.prepared("polled", 1.0);
  scheduler.pump();
  io.poll();
  EXPECT_EQ(std::set<spool::JobId>(runs.begin(), runs.end()),
            (std::set<spool::JobId>{due, polled}));
  scheduler.stop();
}

TEST_F(SchedulerTest, ItsOwnSubmitLeftWithoutARunIsHeldForAPerson) {
  const auto id = t.prepared("clip", 1.0);
  t.store->mark_uploaded(id, {"https://v/v.mp4", "https://v/a.wav"});
  t.store->mark_submitting(id, "fal-ai/sync-lipsync");  // the run died before fal's answer
  scheduler.pump();
  io.poll();
  EXPECT_TRUE(runs.empty());
  EXPECT_EQ(t.store->get(id).hold_reason, spool::HoldReason::ambiguous_submit);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].event, observe::EventName::held);
  scheduler.stop();
}

TEST_F(SchedulerTest, ASilentNodesJobsAreTakenOverUpToTheCapacity) {
  // Six jobs claimed by another node that then went silent.
  spool::JobStoreSettings settings;
  settings.state_dir = t.dir / "state";
  settings.clock = [this] { return t.now; };
  settings.node = "dead-node";
  settings.lease = std::chrono::seconds(30);
  auto other = spool::open_job_store(settings);
  std::vector<spool::JobId> theirs;
  for (int i = 0; i < 6; ++i) {
    theirs.push_back(
        other->claim(test_support::write_pair(t.inbox(), "x" + std::to_string(i))).job.id);
  }
  scheduler.pump();
  io.poll();
  EXPECT_TRUE(runs.empty());  // alive: theirs
  t.now += std::chrono::seconds(31);
  scheduler.pump();
  io.poll();
  EXPECT_EQ(runs.size(), 4u);  // the capacity; the rest stay for other nodes
  EXPECT_EQ(taken_over, 4);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events[0].event, observe::EventName::recovered);
  EXPECT_NE(events[0].message.find("dead-node"), std::string::npos);
  release.cancel();
  io.poll();
  scheduler.pump();
  io.poll();
  EXPECT_EQ(std::set<spool::JobId>(runs.begin(), runs.end()),
            std::set<spool::JobId>(theirs.begin(), theirs.end()));
  scheduler.stop();
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
