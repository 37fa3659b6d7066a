// The metrics feed: events counted as they happen, the store's gauges at each scrape.

#include <gtest/gtest.h>

#include "daemon_test_store.hpp"
#include "lipsyncd/daemon/metrics_feed.hpp"

namespace lipsyncd::daemon {
namespace {

using observe::EventName;

class MetricsFeedTest : public ::testing::Test {
 protected:
  bool has(const std::string& sample) const {
    return registry.render().find(sample) != std::string::npos;
  }

  observe::MetricsRegistry registry;
  observe::DaemonMetrics metrics{registry};
};

TEST_F(MetricsFeedTest, EventsCountOutcomesAndTheSpendAtTheSubmit) {
  count_event(metrics, {.event = EventName::submitted, .cost_usd = 0.25});
  count_event(metrics, {.event = EventName::delivered});
  count_event(metrics, {.event = EventName::failed, .reason_code = "no_face"});
  count_event(metrics, {.event = EventName::prepared, .cost_usd = 9.0});  // an estimate only
  EXPECT_DOUBLE_EQ(metrics.spend_usd.value(), 0.25);
  EXPECT_DOUBLE_EQ(metrics.job_events.with({"submitted"}).value(), 1);
  EXPECT_DOUBLE_EQ(metrics.jobs_finished.with({"delivered", ""}).value(), 1);
  EXPECT_DOUBLE_EQ(metrics.jobs_finished.with({"failed", "no_face"}).value(), 1);
}

TEST_F(MetricsFeedTest, GaugesMirrorTheStoreAndACapOnlyWhenThereIsOne) {
  test_support::TestStore t;
  t.claim("a");
  const auto held = t.prepared("b", 1.0);
  t.store->hold(held, spool::HoldReason::budget, "over the cap");
  collect_store_gauges(metrics, *t.store, BudgetConfig{.daily_usd = 10.0}, {true, "ok"});
  EXPECT_DOUBLE_EQ(metrics.jobs.with({"accepted"}).value(), 1);
  EXPECT_DOUBLE_EQ(metrics.jobs.with({"held"}).value(), 1);
  EXPECT_DOUBLE_EQ(metrics.held_jobs.with({"budget"}).value(), 1);
  EXPECT_DOUBLE_EQ(metrics.healthy.value(), 1);
  EXPECT_TRUE(has("lipsyncd_budget_cap_usd{period=\"daily\"} 10"));
  EXPECT_FALSE(has("lipsyncd_budget_cap_usd{period=\"monthly\"}"));
  collect_store_gauges(metrics, *t.store, BudgetConfig{}, {false, "inbox gone"});
  EXPECT_FALSE(has("lipsyncd_budget_cap_usd{period=\"daily\"}")) << "a removed cap has no series";
  EXPECT_DOUBLE_EQ(metrics.healthy.value(), 0);
}

}  // namespace
}  // namespace lipsyncd::daemon
