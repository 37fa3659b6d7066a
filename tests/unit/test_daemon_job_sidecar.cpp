// The sidecar of a delivered job, built once from the job, the plan its result came from and
// the measured facts; and how a failed step tells a job changed by someone else.

#include <gtest/gtest.h>

#include "lipsyncd/daemon/job_pipeline.hpp"
#include "lipsyncd/daemon/job_sidecar.hpp"

namespace lipsyncd::daemon {
namespace {

using namespace std::chrono_literals;
using spool::JobState;

spool::JobRecord delivered_job() {
  const auto t0 = std::chrono::system_clock::now();
  spool::JobRecord job;
  job.id = "j-2";
  job.name = "clip";
  job.video.path = "/spool/j-2/clip.mp4";
  job.video.original_path = "/in/clip.mp4";
  job.audio.path = "/spool/j-2/clip.wav";
  job.audio.original_path = "/in/clip.wav";
  job.request_id = "req-2";
  job.endpoint = "fal-ai/sync-lipsync/v2";
  job.plan = spool::JobPlan{.sync_mode = SyncMode::bounce,
                            .reason = "audio longer",
                            .model = "lipsync-2",
                            .video_s = 4,
                            .audio_s = 6,
                            .output_s = 60,
                            .estimated_usd = 3,
                            .normalized_video = {},
                            .normalized_audio = {},
                            .usd_per_minute = 3};
  job.result = spool::JobResult{};
  job.entered_at = {{JobState::accepted, t0},       {JobState::prepared, t0 + 2s},
                    {JobState::uploaded, t0 + 3s},  {JobState::submitting, t0 + 3s},
                    {JobState::submitted, t0 + 4s}, {JobState::completed, t0 + 14s}};
  return job;
}

TEST(JobSidecar, TheJobsOwnPlanFactsAndStages) {
  const auto job = delivered_job();
  const auto sidecar = sidecar_for(job, origin_of(job, std::nullopt), {true, 6.02},
                                   job.entered_at.at(JobState::completed) + 1s);
  EXPECT_EQ(sidecar.job_id, "j-2");
  EXPECT_EQ(sidecar.request_id, "req-2");
  EXPECT_EQ(sidecar.endpoint, "fal-ai/sync-lipsync/v2");
  EXPECT_EQ(sidecar.model, "lipsync-2");
  EXPECT_EQ(sidecar.sync_mode, "bounce");
  EXPECT_EQ(sidecar.inputs, (std::vector<std::string>{"clip.mp4", "clip.wav"}));
  EXPECT_DOUBLE_EQ(sidecar.output_duration_s, 6.02);
  EXPECT_DOUBLE_EQ(sidecar.estimate_minutes, 1);
  EXPECT_DOUBLE_EQ(sidecar.estimated_cost_usd, 3);
  EXPECT_DOUBLE_EQ(sidecar.stage_seconds.at("prepare"), 2);
  EXPECT_DOUBLE_EQ(sidecar.stage_seconds.at("fal"), 10);
  EXPECT_DOUBLE_EQ(sidecar.stage_seconds.at("deliver"), 1);
  EXPECT_FALSE(sidecar.duplicate_of);
}

TEST(JobSidecar, ADuplicateTellsItsTwinsRequestAndCostsNothing) {
  const auto twin = delivered_job();
  spool::JobRecord job;
  job.id = "j-3";
  job.result = spool::JobResult{};
  job.result->duplicate_of = twin.id;
  const auto origin = origin_of(job, twin);
  EXPECT_EQ(origin.request_id, "req-2");
  EXPECT_EQ(origin.endpoint, twin.endpoint);
  EXPECT_EQ(origin.plan.model, "lipsync-2");
  const auto sidecar = sidecar_for(job, origin, {true, 6}, std::chrono::system_clock::now());
  EXPECT_EQ(sidecar.duplicate_of, "j-2");
  EXPECT_DOUBLE_EQ(sidecar.estimated_cost_usd, 0);
  EXPECT_DOUBLE_EQ(sidecar.estimate_minutes, 0);
  EXPECT_DOUBLE_EQ(sidecar.usd_per_minute, 3) << "the rate it would have cost";
}

TEST(JobSidecar, AnOlderPlanWithoutARateDerivesItFromTheEstimate) {
  auto job = delivered_job();
  job.plan->usd_per_minute = 0;
  job.plan->estimated_usd = 1.5;
  const auto sidecar =
      sidecar_for(job, origin_of(job, std::nullopt), {true, 60}, std::chrono::system_clock::now());
  EXPECT_DOUBLE_EQ(sidecar.usd_per_minute, 1.5);
  EXPECT_DOUBLE_EQ(sidecar.estimated_cost_usd, 1.5);
}

TEST(JobPipelineChangedMeanwhile, OnlyAStateTheStepDidNotMakeCounts) {
  EXPECT_FALSE(changed_meanwhile(JobState::prepared, JobState::prepared));
  EXPECT_FALSE(changed_meanwhile(JobState::uploaded, JobState::submitting))
      << "the submit's own intent";
  EXPECT_TRUE(changed_meanwhile(JobState::prepared, JobState::cancelled));
  EXPECT_TRUE(changed_meanwhile(JobState::accepted, JobState::submitting));
  EXPECT_TRUE(changed_meanwhile(JobState::completed, JobState::accepted));
}

TEST(JobSidecar, ALongFormJobListsEachSegmentsRequestRangeEstimateAndTimings) {
  const auto t0 = std::chrono::system_clock::now();
  spool::JobPlan parent_plan;
  parent_plan.segments = {{.index = 1, .start_s = 0, .end_s = 500.2, .cut_reason = "pause at 8:20"},
                          {.index = 2, .start_s = 500.2, .end_s = 1000, .cut_reason = "end"}};
  std::vector<spool::JobRecord> children(2);
  for (int i = 0; i < 2; ++i) {
    auto& child = children[i];
    child.id = "p-s0" + std::to_string(i + 1);
    child.request_id = "req-" + std::to_string(i + 1);
    child.segment = spool::JobSegment{.parent_id = "p",
                                      .index = i + 1,
                                      .count = 2,
                                      .start_s = parent_plan.segments[i].start_s,
                                      .end_s = parent_plan.segments[i].end_s};
    child.plan = spool::JobPlan{};
    child.plan->estimated_usd = 0.5 + i;
    child.entered_at = {{JobState::prepared, t0},        {JobState::uploaded, t0 + 2s},
                        {JobState::submitting, t0 + 2s}, {JobState::submitted, t0 + 3s},
                        {JobState::completed, t0 + 13s}, {JobState::delivered, t0 + 14s}};
  }
  const auto segments = sidecar_segments(parent_plan, children);
  ASSERT_EQ(segments.size(), 2u);
  EXPECT_EQ(segments[0].job_id, "p-s01");
  EXPECT_EQ(segments[0].request_id, "req-1");
  EXPECT_EQ(segments[0].cut_reason, "pause at 8:20");
  EXPECT_DOUBLE_EQ(segments[0].end_s, 500.2);
  EXPECT_DOUBLE_EQ(segments[1].start_s, 500.2);
  EXPECT_DOUBLE_EQ(segments[1].estimated_cost_usd, 1.5);
  EXPECT_DOUBLE_EQ(segments[1].stage_seconds.at("upload"), 2);
  EXPECT_DOUBLE_EQ(segments[1].stage_seconds.at("fal"), 10);
  EXPECT_DOUBLE_EQ(segments[1].stage_seconds.at("download"), 1);
}

}  // namespace
}  // namespace lipsyncd::daemon
