// Counters, gauges and histograms render in Prometheus's text format with HELP/TYPE lines,
// escaped labels and cumulative buckets, stay exact under concurrent updates, and refuse
// invalid definitions.

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "lipsyncd/core/error.hpp"
#include "lipsyncd/observe/daemon_metrics.hpp"
#include "lipsyncd/observe/metrics_registry.hpp"

namespace lipsyncd::observe {
namespace {

bool contains_line(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

TEST(ObserveMetricsRegistry, CountersAndGaugesRenderWithHelpTypeAndLabels) {
  MetricsRegistry registry;
  auto& responses =
      registry.counter("lipsyncd_fal_http_responses_total", "Responses.", {"operation", "code"});
  auto& budget = registry.gauge("lipsyncd_budget_remaining_usd", "Budget.", {"period"});
  responses.with({"submit", "200"}).inc();
  responses.with({"submit", "200"}).inc(2);
  responses.with({"status", "429"}).inc();
  budget.with({"daily"}).set(12.5);
  budget.with({"daily"}).dec(0.5);

  const auto text = registry.render();
  EXPECT_TRUE(contains_line(text, "# HELP lipsyncd_fal_http_responses_total Responses.")) << text;
  EXPECT_TRUE(contains_line(text, "# TYPE lipsyncd_fal_http_responses_total counter")) << text;
  EXPECT_TRUE(
      contains_line(text, R"(lipsyncd_fal_http_responses_total{operation="submit",code="200"} 3)"))
      << text;
  EXPECT_TRUE(
      contains_line(text, R"(lipsyncd_fal_http_responses_total{operation="status",code="429"} 1)"))
      << text;
  EXPECT_TRUE(contains_line(text, "# TYPE lipsyncd_budget_remaining_usd gauge")) << text;
  EXPECT_TRUE(contains_line(text, R"(lipsyncd_budget_remaining_usd{period="daily"} 12)")) << text;
}

TEST(ObserveMetricsRegistry, UnlabelledMetricsHaveNoBraces) {
  MetricsRegistry registry;
  registry.counter("lipsyncd_uploaded_bytes_total", "Bytes.").with({}).inc(1048576);
  EXPECT_TRUE(contains_line(registry.render(), "lipsyncd_uploaded_bytes_total 1048576"))
      << registry.render();
}

TEST(ObserveMetricsRegistry, LabelValuesAndHelpAreEscaped) {
  MetricsRegistry registry;
  registry.counter("lipsyncd_x_total", "Help with \\ and\nnewline.", {"name"})
      .with({"a \"quoted\" \\ path\nnext"})
      .inc();
  const auto text = registry.render();
  EXPECT_TRUE(contains_line(text, R"(# HELP lipsyncd_x_total Help with \\ and\nnewline.)")) << text;
  EXPECT_TRUE(contains_line(text, R"(lipsyncd_x_total{name="a \"quoted\" \\ path\nnext"} 1)"))
      << text;
}

TEST(ObserveMetricsRegistry, HistogramBucketsAreCumulativeWithSumAndCount) {
  MetricsRegistry registry;
  auto& durations =
      registry.histogram("lipsyncd_stage_duration_seconds", "Stage time.", {"stage"}, {1, 5, 10});
  auto& upload = durations.with({"upload"});
  for (const double seconds : {0.5, 1.0, 3.0, 7.0, 60.0}) upload.observe(seconds);

  const auto text = registry.render();
  EXPECT_TRUE(contains_line(text, "# TYPE lipsyncd_stage_duration_seconds histogram")) << text;
  EXPECT_TRUE(
      contains_line(text, R"(lipsyncd_stage_duration_seconds_bucket{stage="upload",le="1"} 2)"))
      << text;
  EXPECT_TRUE(
      contains_line(text, R"(lipsyncd_stage_duration_seconds_bucket{stage="upload",le="5"} 3)"))
      << text;
  EXPECT_TRUE(
      contains_line(text, R"(lipsyncd_stage_duration_seconds_bucket{stage="upload",le="10"} 4)"))
      << text;
  EXPECT_TRUE(
      contains_line(text, R"(lipsyncd_stage_duration_seconds_bucket{stage="upload",le="+Inf"} 5)"))
      << text;
  EXPECT_TRUE(contains_line(text, R"(lipsyncd_stage_duration_seconds_sum{stage="upload"} 71.5)"))
      << text;
  EXPECT_TRUE(contains_line(text, R"(lipsyncd_stage_duration_seconds_count{stage="upload"} 5)"))
      << text;
}

TEST(ObserveMetricsRegistry, ConcurrentUpdatesAreNotLost) {
  MetricsRegistry registry;
  auto& counter = registry.counter("lipsyncd_c_total", "C.", {"worker"});
  auto& histogram = registry.histogram("lipsyncd_h_seconds", "H.", {}, {0.5});
  constexpr int kThreads = 4;
  constexpr int kIncrements = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kIncrements; ++i) {
        counter.with({"shared"}).inc();
        counter.with({std::to_string(t)}).inc();
        histogram.with({}).observe(i % 2 == 0 ? 0.1 : 1.0);
        if (i % 1000 == 0) (void)registry.render();  // rendering while others update
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(counter.with({"shared"}).value(), kThreads * kIncrements);
  EXPECT_EQ(counter.with({"2"}).value(), kIncrements);
  const auto snapshot = histogram.with({}).snapshot();
  EXPECT_EQ(snapshot.count, static_cast<std::uint64_t>(kThreads * kIncrements));
  EXPECT_EQ(snapshot.cumulative_counts.at(0),
            static_cast<std::uint64_t>(kThreads * kIncrements / 2));
}

TEST(ObserveMetricsRegistry, InvalidDefinitionsAreRefused) {
  MetricsRegistry registry;
  registry.counter("lipsyncd_ok_total", "Ok.");
  const auto expect_refused = [](auto&& define) {
    try {
      define();
      ADD_FAILURE() << "expected metric_definition_invalid";
    } catch (const Error& e) {
      EXPECT_EQ(e.reason_code(), "metric_definition_invalid");
    }
  };
  expect_refused([&] { registry.counter("lipsyncd_ok_total", "Twice."); });
  expect_refused([&] { registry.counter("9starts_with_digit", "Bad."); });
  expect_refused([&] { registry.gauge("lipsyncd-dash", "Bad."); });
  expect_refused([&] { registry.gauge("lipsyncd_g", "Bad label.", {"has space"}); });
  expect_refused([&] { registry.gauge("lipsyncd_g2", "Dup label.", {"a", "a"}); });
  expect_refused([&] { registry.histogram("lipsyncd_h", "le label.", {"le"}, {1}); });
  expect_refused([&] { registry.histogram("lipsyncd_h2", "Unsorted.", {}, {5, 1}); });
  auto& labelled = registry.counter("lipsyncd_l_total", "Two labels.", {"a", "b"});
  expect_refused([&] { labelled.with({"only one"}); });
  try {
    labelled.with({"x", "y"}).inc(-1);
    ADD_FAILURE() << "a counter went down";
  } catch (const Error& e) {
    EXPECT_EQ(e.reason_code(), "metric_counter_decrease");
  }
}

TEST(ObserveMetricsRegistry, SampleValuesUsePrometheusSpellings) {
  EXPECT_EQ(format_sample_value(3), "3");
  EXPECT_EQ(format_sample_value(0.25), "0.25");
  EXPECT_EQ(format_sample_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_sample_value(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(format_sample_value(std::numeric_limits<double>::quiet_NaN()), "NaN");
}

TEST(ObserveMetricsRegistry, CollectorsRunAtEveryRenderAndRemovedChildrenDisappear) {
  MetricsRegistry registry;
  auto& cap = registry.gauge("lipsyncd_budget_cap_usd", "Cap.", {"period"});
  int collected = 0;
  bool capped = true;
  registry.add_collector([&] {
    ++collected;
    if (capped) {
      cap.with({"daily"}).set(5.0 * collected);
    } else {
      cap.remove({"daily"});
    }
  });
  EXPECT_EQ(collected, 0) << "collectors run at scrape time, not before";
  EXPECT_TRUE(contains_line(registry.render(), "lipsyncd_budget_cap_usd{period=\"daily\"} 5"));
  EXPECT_TRUE(contains_line(registry.render(), "lipsyncd_budget_cap_usd{period=\"daily\"} 10"));
  capped = false;
  const auto text = registry.render();
  EXPECT_EQ(text.find("lipsyncd_budget_cap_usd{"), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE lipsyncd_budget_cap_usd gauge"), std::string::npos) << text;
  EXPECT_EQ(collected, 3);
}

TEST(ObserveMetricsRegistry, DaemonMetricsDefineEveryFamilyUpFront) {
  MetricsRegistry registry;
  DaemonMetrics metrics(registry);
  const auto text = registry.render();
  for (const auto* family :
       {"lipsyncd_jobs gauge", "lipsyncd_jobs_finished_total counter",
        "lipsyncd_stage_duration_seconds histogram", "lipsyncd_uploaded_bytes_total counter",
        "lipsyncd_downloaded_bytes_total counter", "lipsyncd_fal_http_responses_total counter",
        "lipsyncd_fal_retries_total counter", "lipsyncd_spend_usd_total counter",
        "lipsyncd_budget_remaining_usd gauge", "lipsyncd_watcher_events_total counter",
        "lipsyncd_oldest_job_age_seconds gauge", "lipsyncd_job_events_total counter",
        "lipsyncd_start_time_seconds gauge", "lipsyncd_delivery_blocked gauge",
        "lipsyncd_held_jobs gauge", "lipsyncd_budget_cap_usd gauge",
        "lipsyncd_period_spend_usd gauge", "lipsyncd_healthy gauge"}) {
    EXPECT_TRUE(contains_line(text, std::string("# TYPE ") + family)) << family << "\n" << text;
  }
  EXPECT_TRUE(contains_line(text, "lipsyncd_spend_usd_total 0")) << text;
  EXPECT_GT(metrics.start_time_seconds.value(), 1.7e9);
  // Known label values exist at 0 from the start, so increase() sees their first change.
  EXPECT_TRUE(contains_line(text, R"(lipsyncd_watcher_events_total{kind="rescan_found"} 0)"))
      << text;
  EXPECT_TRUE(contains_line(text, R"(lipsyncd_stage_duration_seconds_count{stage="fal"} 0)"))
      << text;
  EXPECT_TRUE(
      contains_line(text, R"(lipsyncd_jobs_finished_total{outcome="delivered",reason_code=""} 0)"))
      << text;

  metrics.count_event(EventName::delivered);
  metrics.spend_usd.inc(0.7);
  metrics.stage_duration.with({"normalize"}).observe(4.2);
  const auto after = registry.render();
  EXPECT_TRUE(contains_line(after, R"(lipsyncd_job_events_total{event="delivered"} 1)")) << after;
  EXPECT_TRUE(contains_line(after, "lipsyncd_spend_usd_total 0.7")) << after;
  EXPECT_TRUE(
      contains_line(after, R"(lipsyncd_stage_duration_seconds_bucket{stage="normalize",le="5"} 1)"))
      << after;
}

}  // namespace
}  // namespace lipsyncd::observe
