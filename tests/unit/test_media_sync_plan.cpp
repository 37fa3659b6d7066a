// The sync-mode policy of docs/design.md, case by case, and over ../shared/media/PAIRS.json
// with real files (mode and output duration within one frame).

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include "lipsyncd/config/config.hpp"
#include "lipsyncd/media/pair_check.hpp"
#include "lipsyncd/media/sync_plan.hpp"
#include "test_media.hpp"

namespace lipsyncd::media {
namespace {

MediaInfo lasting(double seconds) {
  MediaInfo info;
  info.duration_s = seconds;
  return info;
}

SyncPlan plan(double video_s, double audio_s, const PolicyConfig& policy = {},
              std::optional<SyncMode> requested = std::nullopt) {
  return plan_sync(lasting(video_s), lasting(audio_s), policy, requested);
}

TEST(SyncPlan, EqualLengthsWithinTheToleranceCutOff) {
  // Tolerance is max(0.25 s, 2 % of the video): 0.25 s for 10 s, 1.2 s for 60 s.
  EXPECT_EQ(plan(10, 10.2).mode, SyncMode::cut_off);
  EXPECT_DOUBLE_EQ(plan(10, 10.2).output_duration_s, 10);
  EXPECT_EQ(plan(60, 61.1).mode, SyncMode::cut_off);
  EXPECT_EQ(plan(10, 10.3).mode, SyncMode::bounce);
}

TEST(SyncPlan, LongerAudioBouncesALongVideoAndLoopsAShortOne) {
  const SyncPlan bounce = plan(4, 30);
  EXPECT_EQ(bounce.mode, SyncMode::bounce);
  EXPECT_DOUBLE_EQ(bounce.output_duration_s, 30);
  EXPECT_DOUBLE_EQ(bounce.video_span.duration_s, 4);
  EXPECT_DOUBLE_EQ(bounce.audio_span.duration_s, 30);
  EXPECT_EQ(plan(1.5, 30).mode, SyncMode::loop);
  PolicyConfig prefers_loop;
  prefers_loop.audio_longer = SyncMode::loop;
  EXPECT_EQ(plan(4, 30, prefers_loop).mode, SyncMode::loop);
}

TEST(SyncPlan, LongerVideoIsCutAndPreTrimmedToTheAudio) {
  const SyncPlan cut = plan(540, 20);
  EXPECT_EQ(cut.mode, SyncMode::cut_off);
  EXPECT_DOUBLE_EQ(cut.output_duration_s, 20);
  // Only what fal keeps is uploaded: 20 s of the 9-minute video.
  EXPECT_DOUBLE_EQ(cut.video_span.duration_s, 20);
  EXPECT_DOUBLE_EQ(cut.audio_span.duration_s, 20);
  PolicyConfig keep_video;
  keep_video.video_longer = SyncMode::silence;
  const SyncPlan silence = plan(540, 20, keep_video);
  EXPECT_EQ(silence.mode, SyncMode::silence);
  EXPECT_DOUBLE_EQ(silence.output_duration_s, 540);
  EXPECT_DOUBLE_EQ(silence.video_span.duration_s, 540);
}

TEST(SyncPlan, AJobsOwnChoiceBeatsTheConfigWhichBeatsThePolicy) {
  PolicyConfig forced;
  forced.forced = SyncMode::loop;
  EXPECT_EQ(plan(10, 10, forced).mode, SyncMode::loop);
  EXPECT_EQ(plan(10, 10, forced, SyncMode::remap).mode, SyncMode::remap);
  EXPECT_EQ(plan(10, 10, {}, SyncMode::remap).mode, SyncMode::remap);
  // remap is never chosen by the policy itself.
  for (double audio : {1.0, 10.0, 100.0}) {
    EXPECT_NE(plan(10, audio).mode, SyncMode::remap);
  }
}

TEST(SyncPlan, CostIsOutputMinutesTimesThePrice) {
  EXPECT_NEAR(plan(120, 120).estimated_cost_usd, 1.40, 1e-9);
  PolicyConfig pricey;
  pricey.price_per_minute_usd = 1.0;
  EXPECT_NEAR(plan(4, 30, pricey).estimated_cost_usd, 0.5, 1e-9);
}

TEST(SyncPlan, EveryPlanExplainsItself) {
  for (const SyncPlan& p : {plan(10, 10), plan(4, 30), plan(1, 30), plan(30, 4)}) {
    EXPECT_GT(p.reason.size(), 15u) << to_string(p.mode);
  }
}

// PAIRS.json measured each side's STREAM duration from a full decode; the plan must be made
// from those (the Mona Lisa clip's container lasts 14.215 s, its picture 14.081 s: a plan from
// the container would promise, and bill, 0.134 s of output that cannot exist).
TEST(SyncPlanPairs, EveryPairOfPairsJsonGetsItsVerdictModeAndLength) {
  std::ifstream in(test::media_dir() / "PAIRS.json");
  std::stringstream text;
  text << in.rdbuf();
  const boost::json::array pairs = boost::json::parse(text.str()).as_array();
  ASSERT_GE(pairs.size(), 26u);
  const Config config = default_config({});
  for (const auto& value : pairs) {
    const auto& pair = value.as_object();
    const std::string video(pair.at("video").as_string());
    const std::string audio(pair.at("audio").as_string());
    SCOPED_TRACE(video + " + " + audio);
    const PairReport report = check_pair(test::media(video), test::media(audio), config);
    // Exact: accept and accept_with_warning are different verdicts.
    EXPECT_EQ(to_string(report.verdict), pair.at("verdict").as_string()) << report.message;
    const auto& reason = pair.at("reason");
    EXPECT_EQ(report.reason_code, reason.is_null() ? "" : std::string(reason.as_string()))
        << report.message;
    if (pair.at("default_sync_mode").is_null()) {
      // Rejected before submission: nothing planned is ever uploaded.
      EXPECT_EQ(report.verdict, Verdict::reject);
      continue;
    }
    ASSERT_NE(report.verdict, Verdict::reject) << report.message;
    ASSERT_TRUE(report.plan);
    EXPECT_EQ(to_string(report.plan->mode), pair.at("default_sync_mode").as_string());
    const double frame_s = 1.0 / report.video->video->fps;
    EXPECT_NEAR(report.plan->video_duration_s, pair.at("video_duration_s").to_number<double>(),
                frame_s);
    EXPECT_NEAR(report.plan->audio_duration_s, pair.at("audio_duration_s").to_number<double>(),
                frame_s);
    EXPECT_NEAR(report.plan->output_duration_s, pair.at("output_duration_s").to_number<double>(),
                frame_s);
    EXPECT_NEAR(report.plan->estimated_cost_usd,
                report.plan->output_duration_s / 60 * config.policy.price_per_minute_usd, 1e-9);
  }
}

TEST(SyncPlanPairs, RejectedPairsNameTheirReason) {
  const Config config = default_config({});
  EXPECT_EQ(check_pair(test::media("noface_testsrc.mp4"), test::media("speech_5s.wav"), config)
                .reason_code,
            "no_face");
  const PairReport silent =
      check_pair(test::media("talk_h264_aac.mp4"), test::media("silent_5s.wav"), config);
  EXPECT_EQ(silent.reason_code, "audio_silent");
  // Silence is found before the (costlier) face check runs.
  EXPECT_FALSE(silent.face);
}

}  // namespace
}  // namespace lipsyncd::media
