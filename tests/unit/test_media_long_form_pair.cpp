// check_pair on a long-form pair made small: [media] max_video_duration_s = 20 and
// [longform] max_segment_s = 18 turn a 32 s pair into a 2-segment job, so the planning glue
// (envelope, pauses, keyframes, a face check per segment) runs on real media in seconds. The
// media are made here with ffmpeg from the corpus.

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "child_process.hpp"
#include "lipsyncd/config/config.hpp"
#include "lipsyncd/media/pair_check.hpp"
#include "lipsyncd/media/pair_preparation.hpp"
#include "lipsyncd/media/pair_report.hpp"
#include "lipsyncd/media/speech_pauses.hpp"
#include "test_media.hpp"

namespace lipsyncd::media {
namespace {

void ffmpeg(const test::TempDir& dir, std::vector<std::string> arguments) {
  std::vector<std::string> argv = {"/usr/bin/ffmpeg", "-nostdin", "-v", "error", "-y"};
  argv.insert(argv.end(), arguments.begin(), arguments.end());
  ASSERT_EQ(test::run_to_completion(argv, dir / "ffmpeg.log"), 0)
      << test::read_text(dir / "ffmpeg.log");
}

// 32 s of 320x320 video: the talking face for the first 16 s, then either the face again or a
// test pattern without one; keyframes every 2 s.
std::filesystem::path make_video(const test::TempDir& dir, bool face_throughout) {
  const auto file = dir / (face_throughout ? "face.mp4" : "half_face.mp4");
  const std::string second = face_throughout ? "real_talk_retalk1.mp4" : "noface_testsrc.mp4";
  ffmpeg(dir, {"-stream_loop",
               "-1",
               "-i",
               test::media("real_talk_retalk1.mp4").string(),
               "-stream_loop",
               "-1",
               "-i",
               test::media(second).string(),
               "-filter_complex",
               "[0:v]trim=0:16,setpts=PTS-STARTPTS,fps=25,scale=320:320,setsar=1[a];"
               "[1:v]trim=0:16,setpts=PTS-STARTPTS,fps=25,scale=320:320,setsar=1[b];"
               "[a][b]concat=n=2:v=1[v]",
               "-map",
               "[v]",
               "-an",
               "-c:v",
               "libx264",
               "-preset",
               "ultrafast",
               "-g",
               "50",
               "-pix_fmt",
               "yuv420p",
               file.string()});
  return file;
}

std::filesystem::path make_audio(const test::TempDir& dir) {
  const auto file = dir / "speech.wav";
  ffmpeg(dir, {"-i", test::media("real_speech_42s.mp3").string(), "-t", "32", "-ac", "1", "-ar",
               "16000", "-c:a", "pcm_s16le", file.string()});
  return file;
}

Config small_limits() {
  return parse_config("[media]\nmax_video_duration_s = 20\n[longform]\nmax_segment_s = 18\n", "/b",
                      {});
}

TEST(LongFormPair, ALongPairIsPlannedInPausesWithAFaceCheckPerSegment) {
  test::TempDir dir;
  const auto video = make_video(dir, true);
  const auto audio = make_audio(dir);
  const PairReport report = check_pair(video, audio, small_limits());
  ASSERT_EQ(report.verdict, Verdict::accept) << report.message << " " << report.hint;
  ASSERT_TRUE(report.long_form.has_value());
  const LongFormPlan& plan = *report.long_form;
  ASSERT_EQ(plan.segments.size(), 2u);
  EXPECT_DOUBLE_EQ(plan.request_limit_s, 20);
  EXPECT_DOUBLE_EQ(plan.max_segment_s, 18);
  const double cut = plan.segments[0].span.end_s();
  EXPECT_GE(cut, 32 - 18 - 0.1);
  EXPECT_LE(cut, 18 + 1e-9);
  EXPECT_LE(plan.segments[1].span.duration_s, 18 + 1e-9);
  EXPECT_NEAR(plan.segments[1].span.end_s(), report.plan->output_duration_s, 1e-9);
  for (const auto& segment : plan.segments) {
    ASSERT_TRUE(segment.face.has_value()) << segment.index;
    EXPECT_GE(segment.face->visible_ratio, 0.5) << segment.index;
  }
  // The cut is in a pause of the audio as the envelope independently measures it, and the
  // keyframes (every 2 s, no transcode needed) are preferred when one lies in it.
  ASSERT_NE(plan.segments[0].end_cut, CutKind::no_pause) << plan.segments[0].cut_reason;
  const AudioEnvelope envelope = measure_envelope(*report.audio);
  const auto pauses = find_pauses(envelope, PauseSettings{});
  const bool inside = std::any_of(pauses.begin(), pauses.end(), [&](const Pause& p) {
    return cut >= p.start_s - 1e-9 && cut <= p.end_s + 1e-9;
  });
  EXPECT_TRUE(inside) << "cut at " << cut << ": " << plan.segments[0].cut_reason;
  EXPECT_EQ(report.audio->loudness.has_value(), true);  // measured with the envelope
  EXPECT_NEAR(plan.total_estimated_usd, report.plan->estimated_cost_usd, 1e-9);
  // Printed for people and for scripts.
  const std::string text = to_text(report);
  EXPECT_NE(text.find("segments: 2"), std::string::npos) << text;
  EXPECT_NE(text.find("ends: "), std::string::npos) << text;
  EXPECT_NE(to_json(report).find("\"long_form\":{"), std::string::npos);
}

// prepare_pair of a long-form pair: the whole pair normalized, each segment cut from it into
// segments/NN/ (a video and an audio of the segment's exact length), and the whole audio track
// encoded once for the stitch.
TEST(LongFormPair, PreparingALongPairCutsEachSegmentToItsPlannedLength) {
  test::TempDir dir;
  const auto video = make_video(dir, true);
  const auto audio = make_audio(dir);
  const auto out = dir / "prepared";
  std::filesystem::create_directories(out);
  const PreparedPair prepared = prepare_pair(video, audio, out, small_limits());
  ASSERT_TRUE(prepared.report.long_form.has_value());
  ASSERT_EQ(prepared.segments.size(), 2u);
  for (std::size_t i = 0; i < prepared.segments.size(); ++i) {
    const auto& segment = prepared.segments[i];
    const auto& planned = prepared.report.long_form->segments[i];
    EXPECT_EQ(segment.index, planned.index);
    EXPECT_DOUBLE_EQ(segment.span.start_s, planned.span.start_s);
    EXPECT_EQ(segment.video.file.parent_path(), out / "segments" / ("0" + std::to_string(i + 1)));
    const auto cut_video = probe(segment.video.file);
    const auto cut_audio = probe(segment.audio.file);
    EXPECT_NEAR(video_seconds(cut_video), planned.span.duration_s, 1.0 / 25) << segment.index;
    EXPECT_NEAR(audio_seconds(cut_audio), planned.span.duration_s, 1.0 / 16000) << segment.index;
    EXPECT_FALSE(cut_video.audio.has_value()) << "fal gets the segment's audio from its WAV";
  }
  EXPECT_NEAR(prepared.segments[1].span.end_s(), 32, 1.0 / 25);
  const auto track = probe(prepared.audio_track.file);
  ASSERT_TRUE(track.audio.has_value());
  EXPECT_EQ(track.audio->codec, "aac");
  EXPECT_NEAR(audio_seconds(track), 32, 0.05);
}

TEST(LongFormPair, ASegmentWithoutAFaceRejectsThePairNamingIt) {
  test::TempDir dir;
  const auto video = make_video(dir, false);
  const auto audio = make_audio(dir);
  const PairReport report = check_pair(video, audio, small_limits());
  EXPECT_EQ(report.verdict, Verdict::reject);
  EXPECT_TRUE(report.reason_code == "no_face" || report.reason_code == "face_not_visible_enough")
      << report.reason_code;
  EXPECT_EQ(report.message.rfind("video: segment 2 (", 0), 0u) << report.message;
  ASSERT_TRUE(report.long_form.has_value());
  EXPECT_TRUE(report.long_form->segments[0].face->reason_code.empty());
}

TEST(LongFormPair, WithLongFormOffTheLongPairIsTooLongAsBefore) {
  test::TempDir dir;
  const auto video = make_video(dir, true);
  const auto audio = make_audio(dir);
  const Config off = parse_config(
      "[media]\nmax_video_duration_s = 20\n[longform]\nenabled = false\nmax_segment_s = 18\n", "/b",
      {});
  const PairReport report = check_pair(video, audio, off);
  EXPECT_EQ(report.verdict, Verdict::reject);
  EXPECT_EQ(report.reason_code, "video_too_long");
  EXPECT_FALSE(report.long_form.has_value());
  EXPECT_NE(report.message.find("[longform] enabled = false"), std::string::npos) << report.message;
}

}  // namespace
}  // namespace lipsyncd::media
