// The long-form planner (a pure function) on envelopes and pauses made by hand: cuts inside
// pauses near even sizes, no segment over max_segment_s, keyframes preferred, a best-effort
// cut said so, and the limits of one segment.

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "lipsyncd/media/long_form_plan.hpp"

namespace lipsyncd::media {
namespace {

constexpr double kFrameS = 0.04;

// `seconds` of speech at -20 dBFS with quiet (-60 dBFS) stretches at `pauses`.
AudioEnvelope speech_envelope(double seconds, const std::vector<Pause>& pauses) {
  AudioEnvelope envelope;
  envelope.rms_dbfs.assign(static_cast<size_t>(std::lround(seconds / envelope.window_s)), -20.0f);
  for (const Pause& pause : pauses) {
    for (auto i = static_cast<size_t>(std::lround(pause.start_s / envelope.window_s));
         i < static_cast<size_t>(std::lround(pause.end_s / envelope.window_s)); ++i) {
      envelope.rms_dbfs[i] = -60.0f;
    }
  }
  return envelope;
}

LongFormInputs inputs_for(double output_s, std::vector<Pause> pauses,
                          std::vector<double> keyframes = {}) {
  LongFormInputs in;
  in.output_s = output_s;
  in.max_segment_s = 540;
  in.request_limit_s = 600;
  in.pauses = std::move(pauses);
  in.keyframes = std::move(keyframes);
  in.frame_s = kFrameS;
  in.usd_per_minute = 0.70;
  return in;
}

bool on_frame(double t) {
  return std::fabs(t / kFrameS - std::round(t / kFrameS)) < 1e-6;
}

// The segments tile [0, output) in order, none over max_segment_s.
void expect_tiling(const LongFormPlan& plan, double output_s, double max_s) {
  ASSERT_FALSE(plan.segments.empty());
  double at = 0;
  for (size_t i = 0; i < plan.segments.size(); ++i) {
    const auto& segment = plan.segments[i];
    EXPECT_EQ(segment.index, static_cast<int>(i) + 1);
    EXPECT_NEAR(segment.span.start_s, at, 1e-9);
    EXPECT_GT(segment.span.duration_s, 0);
    EXPECT_LE(segment.span.duration_s, max_s + 1e-9) << "segment " << segment.index;
    at = segment.span.end_s();
  }
  EXPECT_NEAR(at, output_s, 1e-9);
}

TEST(LongFormPlan, CutsSitInsideThePausesNearestEvenSizes) {
  // 25 minutes: 3 segments aiming at 500 s and 1000 s.
  const std::vector<Pause> pauses = {
      {300, 300.6, -60}, {480, 481, -60}, {505, 505.5, -60}, {990, 991, -60}, {1100, 1101, -60}};
  const LongFormPlan plan = plan_long_form(inputs_for(1500, pauses), speech_envelope(1500, pauses));
  ASSERT_EQ(plan.segments.size(), 3u);
  expect_tiling(plan, 1500, 540);
  const double cut1 = plan.segments[0].span.end_s();
  const double cut2 = plan.segments[1].span.end_s();
  EXPECT_GT(cut1, 505);  // the pause 5 s from the aim, not the one 19 s before it
  EXPECT_LT(cut1, 505.5);
  EXPECT_GT(cut2, 990);
  EXPECT_LT(cut2, 991);
  EXPECT_TRUE(on_frame(cut1)) << cut1;
  EXPECT_TRUE(on_frame(cut2)) << cut2;
  EXPECT_EQ(plan.segments[0].end_cut, CutKind::pause);
  EXPECT_NE(plan.segments[0].cut_reason.find("pause of 0.50 s at 8:25.0"), std::string::npos)
      << plan.segments[0].cut_reason;
  EXPECT_EQ(plan.segments[2].cut_reason, "end of the output");
  // No keyframes known: every boundary but the ends is re-encoded.
  EXPECT_FALSE(plan.segments[0].starts_on_keyframe);
  EXPECT_FALSE(plan.segments[0].ends_on_keyframe);
  EXPECT_TRUE(plan.segments[2].ends_on_keyframe);
  EXPECT_DOUBLE_EQ(plan.max_segment_s, 540);
  EXPECT_DOUBLE_EQ(plan.request_limit_s, 600);
}

TEST(LongFormPlan, NoSegmentExceedsTheMaximumEvenWhenTheNearestPauseWouldMakeOne) {
  // 1000 s: the aim is 500 and a cut must lie in [460, 540]. The pause at 455 is nearer the
  // aim than the one at 535-536 but would leave 545 s after it.
  const std::vector<Pause> pauses = {{455, 456, -60}, {535, 536, -60}};
  const LongFormPlan plan = plan_long_form(inputs_for(1000, pauses), speech_envelope(1000, pauses));
  ASSERT_EQ(plan.segments.size(), 2u);
  expect_tiling(plan, 1000, 540);
  EXPECT_GT(plan.segments[0].span.end_s(), 535);
  EXPECT_LE(plan.segments[0].span.end_s(), 536);
  EXPECT_EQ(plan.segments[0].end_cut, CutKind::pause);
}

TEST(LongFormPlan, AKeyframeInsideThePauseIsPreferred) {
  const std::vector<Pause> pauses = {{505, 505.6, -60}};
  std::vector<double> keyframes;
  for (double t = 0; t < 1000; t += 2) keyframes.push_back(t);  // none inside the pause...
  keyframes.push_back(505.4);                                   // ...but this one
  std::sort(keyframes.begin(), keyframes.end());
  const LongFormPlan plan =
      plan_long_form(inputs_for(1000, pauses, keyframes), speech_envelope(1000, pauses));
  ASSERT_EQ(plan.segments.size(), 2u);
  EXPECT_DOUBLE_EQ(plan.segments[0].span.end_s(), 505.4);
  EXPECT_EQ(plan.segments[0].end_cut, CutKind::keyframe_in_pause);
  EXPECT_NE(plan.segments[0].cut_reason.find("on a keyframe"), std::string::npos);
  // Both segments can be stream-copied: 0 and 505.4 are keyframes, 1000 is the end.
  EXPECT_TRUE(plan.segments[0].starts_on_keyframe);
  EXPECT_TRUE(plan.segments[0].ends_on_keyframe);
  EXPECT_TRUE(plan.segments[1].starts_on_keyframe);
  EXPECT_TRUE(plan.segments[1].ends_on_keyframe);

  // Without a keyframe in the pause: its middle, on a frame, and a re-encoded boundary.
  keyframes.erase(std::find(keyframes.begin(), keyframes.end(), 505.4));
  const LongFormPlan middle =
      plan_long_form(inputs_for(1000, pauses, keyframes), speech_envelope(1000, pauses));
  EXPECT_NEAR(middle.segments[0].span.end_s(), 505.3, kFrameS / 2 + 1e-9);
  EXPECT_TRUE(on_frame(middle.segments[0].span.end_s()));
  EXPECT_EQ(middle.segments[0].end_cut, CutKind::pause);
  EXPECT_TRUE(middle.segments[0].starts_on_keyframe);
  EXPECT_FALSE(middle.segments[0].ends_on_keyframe);
  EXPECT_FALSE(middle.segments[1].starts_on_keyframe);
}

TEST(LongFormPlan, WithoutAPauseItCutsAtTheQuietestPointAndSaysSo) {
  AudioEnvelope envelope = speech_envelope(1000, {});
  envelope.rms_dbfs[static_cast<size_t>(520 / envelope.window_s)] = -35.0f;  // a dip, no pause
  envelope.rms_dbfs[static_cast<size_t>(300 / envelope.window_s)] = -50.0f;  // out of reach
  const LongFormPlan plan = plan_long_form(inputs_for(1000, {}), envelope);
  ASSERT_EQ(plan.segments.size(), 2u);
  expect_tiling(plan, 1000, 540);
  EXPECT_NEAR(plan.segments[0].span.end_s(), 520.01, kFrameS);
  EXPECT_EQ(plan.segments[0].end_cut, CutKind::no_pause);
  EXPECT_NE(plan.segments[0].cut_reason.find("no pause of 0.30 s or more between 7:40.0 and "
                                             "9:00.0 (around 8:20.0): quietest point, -35.0 dBFS"),
            std::string::npos)
      << plan.segments[0].cut_reason;
  bool noted = false;
  for (const auto& note : plan.notes) {
    noted = noted || note.find("segment 1 ends at 8:40.0 without a pause (best effort)") !=
                         std::string::npos;
  }
  EXPECT_TRUE(noted) << "no best-effort note";
}

TEST(LongFormPlan, UpToMaxSegmentIsOneSegmentAndJustOverIsTwo) {
  const AudioEnvelope envelope = speech_envelope(600, {{270, 271, -60}});
  const auto at_limit = plan_long_form(inputs_for(540, {{270, 271, -60}}), envelope);
  ASSERT_EQ(at_limit.segments.size(), 1u);
  EXPECT_DOUBLE_EQ(at_limit.segments[0].span.duration_s, 540);
  EXPECT_EQ(plan_long_form(inputs_for(540.0005, {{270, 271, -60}}), envelope).segments.size(), 1u);
  const auto over = plan_long_form(inputs_for(541, {{270, 271, -60}}), envelope);
  ASSERT_EQ(over.segments.size(), 2u);
  expect_tiling(over, 541, 540);
}

TEST(LongFormPlan, EstimatesArePerSegmentAndAddUpToTheWhole) {
  const std::vector<Pause> pauses = {{700, 701, -60}, {1450, 1451, -60}, {2150, 2151, -60}};
  const LongFormPlan plan = plan_long_form(inputs_for(2880, pauses), speech_envelope(2880, pauses));
  ASSERT_EQ(plan.segments.size(), 6u);  // 48 minutes at 9 minutes a segment
  expect_tiling(plan, 2880, 540);
  double sum = 0;
  for (const auto& segment : plan.segments) {
    EXPECT_NEAR(segment.estimated_usd, segment.span.duration_s / 60 * 0.70, 1e-9);
    sum += segment.estimated_usd;
  }
  EXPECT_NEAR(plan.total_estimated_usd, sum, 1e-9);
  EXPECT_NEAR(plan.total_estimated_usd, 2880 / 60.0 * 0.70, 1e-9);
}

TEST(LongFormPlan, SourceSpanOfASegmentPerMode) {
  const auto expect_span = [](TimeSpan span, double start, double duration) {
    EXPECT_NEAR(span.start_s, start, 1e-9);
    EXPECT_NEAR(span.duration_s, duration, 1e-9);
  };
  // cut_off: the same times.
  expect_span(source_span_of(SyncMode::cut_off, 1000, {500, 400}), 500, 400);
  // silence with the audio longer: past the video's end its last frame is held.
  expect_span(source_span_of(SyncMode::silence, 700, {540, 540}), 540, 160);
  expect_span(source_span_of(SyncMode::silence, 700, {1080, 540}), 699, 1);
  // loop of a 4 s clip: every segment shows all of it.
  expect_span(source_span_of(SyncMode::loop, 4, {540, 540}), 0, 4);
  // loop of a 400 s clip: 540-940 is 140-400 then 0-140: the longer piece.
  expect_span(source_span_of(SyncMode::loop, 400, {540, 400 - 10}), 140, 260);
  expect_span(source_span_of(SyncMode::loop, 400, {410, 100}), 10, 100);
  // bounce of a 400 s clip: 300-700 plays 300->400->100, one interval 100-400.
  expect_span(source_span_of(SyncMode::bounce, 400, {300, 400}), 100, 300);
  expect_span(source_span_of(SyncMode::bounce, 400, {450, 100}), 250, 100);  // backwards
  expect_span(source_span_of(SyncMode::bounce, 400, {700, 200}), 0, 100);    // turns at 0
  expect_span(source_span_of(SyncMode::bounce, 4, {0, 540}), 0, 4);
}

TEST(LongFormPlan, ClockText) {
  EXPECT_EQ(clock_text(0), "0:00.0");
  EXPECT_EQ(clock_text(541.26), "9:01.3");
  EXPECT_EQ(clock_text(59.96), "1:00.0");
  EXPECT_EQ(clock_text(3723.4), "1:02:03.4");
  EXPECT_EQ(to_string(CutKind::keyframe_in_pause), "keyframe_in_pause");
  EXPECT_EQ(to_string(CutKind::no_pause), "no_pause");
}

}  // namespace
}  // namespace lipsyncd::media
