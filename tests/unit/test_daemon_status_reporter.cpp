// The status reporter reads the store (never writes a metric), and the STATUS= line reuses the
// store's numbers until a change is announced or kStatusRefresh has passed.

#include <gtest/gtest.h>

#include "daemon_test_store.hpp"
#include "lipsyncd/daemon/status_reporter.hpp"

namespace lipsyncd::daemon {
namespace {

using namespace std::chrono_literals;

class StatusReporterTest : public ::testing::Test {
 protected:
  test_support::TestStore t;
  LiveWork live;
  std::chrono::steady_clock::time_point clock{};
  StatusReporter reporter{*t.store, [this] { return live; }, [this] { return clock; }};
};

TEST_F(StatusReporterTest, HeartbeatCountsTheStoreAndTheLiveWork) {
  t.claim("a");
  t.claim("b");
  const auto held = t.prepared("c", 1.0);
  t.store->hold(held, spool::HoldReason::budget, "over the cap");
  live.preparing = 1;
  const auto beat = reporter.heartbeat();
  EXPECT_EQ(beat.preparing, 1u);
  EXPECT_EQ(beat.queued, 1u) << "two accepted, one of them being prepared";
  EXPECT_EQ(beat.held, 1u);
  EXPECT_EQ(beat.held_by_reason.at("budget"), 1u);
  EXPECT_GT(beat.oldest_job_age_s, -1);
}

TEST_F(StatusReporterTest, StatusLineIsSentOnlyWhenItChanges) {
  t.claim("a");
  const auto first = reporter.status_update({});
  ASSERT_TRUE(first);
  EXPECT_NE(first->find("1 queued"), std::string::npos) << *first;
  EXPECT_FALSE(reporter.status_update({})) << "the same line twice";
}

TEST_F(StatusReporterTest, StoreNumbersAreReusedUntilInvalidatedOrStale) {
  ASSERT_TRUE(reporter.status_update({}));
  t.claim("a");  // behind the reporter's back
  EXPECT_FALSE(reporter.status_update({})) << "cached: no store query within kStatusRefresh";
  reporter.invalidate();
  const auto after_change = reporter.status_update({});
  ASSERT_TRUE(after_change);
  EXPECT_NE(after_change->find("1 queued"), std::string::npos) << *after_change;

  t.claim("b");
  clock += kStatusRefresh;  // another process changed the store: seen within kStatusRefresh
  const auto refreshed = reporter.status_update({});
  ASSERT_TRUE(refreshed);
  EXPECT_NE(refreshed->find("2 queued"), std::string::npos) << *refreshed;
}

TEST_F(StatusReporterTest, LiveWorkIsReadEveryTimeEvenFromTheCache) {
  t.claim("a");
  ASSERT_TRUE(reporter.status_update({}));
  live.preparing = 1;
  const auto line = reporter.status_update({});
  ASSERT_TRUE(line);
  EXPECT_NE(line->find("0 queued, 1 preparing"), std::string::npos) << *line;
}

TEST_F(StatusReporterTest, PausesComeFirstOnTheLine) {
  Pauses pauses;
  pauses.inbox_gone = "the inbox was deleted";
  pauses.submissions_paused = "fal_auth, job j-1";
  const auto line = reporter.status_update(pauses);
  ASSERT_TRUE(line);
  EXPECT_EQ(line->rfind("submissions paused, fal refused the key; intake paused, inbox gone; 0 "
                        "queued",
                        0),
            0u)
      << *line;
}

TEST(DaemonHealth, PausesAndTheWatcherDecide) {
  EXPECT_TRUE(health_of({}, true, false).ok);
  EXPECT_EQ(health_of({}, true, false).detail, "watcher live");
  EXPECT_FALSE(health_of({}, false, false).ok);
  EXPECT_FALSE(health_of({}, true, true).ok) << "shutting down";
  Pauses inbox;
  inbox.inbox_gone = "the inbox was deleted";
  EXPECT_EQ(health_of(inbox, true, false).detail, "the inbox was deleted");
  Pauses key;
  key.submissions_paused = "fal_auth, job j-1";
  const auto health = health_of(key, true, false);
  EXPECT_FALSE(health.ok);
  EXPECT_EQ(health.detail, "submissions paused: fal refused the API key (fal_auth, job j-1)");
  Pauses database;
  database.store_unreachable = "could not connect to server";
  const auto outage = health_of(database, true, false);
  EXPECT_FALSE(outage.ok) << "a fleet node without its database must not look healthy";
  EXPECT_EQ(outage.detail, "job store unreachable: could not connect to server");
}

}  // namespace
}  // namespace lipsyncd::daemon
