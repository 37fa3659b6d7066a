// The stitcher on synthetic segments made here with ffmpeg: matching segments joined by stream
// copy on the original audio track (seams within a frame, pictures unchanged), a segment of
// another size re-encoded with the reason, an AAC track made beforehand copied, and each check
// failing with stitch_check_failed naming what is off: a short or truncated segment, an output
// off its planned duration, drift at a seam, an audio track shorter than the video.

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "lipsyncd/config/config.hpp"
#include "lipsyncd/core/error.hpp"
#include "lipsyncd/media/media_info.hpp"
#include "lipsyncd/media/stitch.hpp"
#include "synthetic_media.hpp"
#include "test_media.hpp"

namespace lipsyncd::media {
namespace {

namespace fs = std::filesystem;
using namespace synthetic;

// ---- stitch_segments ----

// Three 2 s segments as fal would return them (same encoder settings, each with its own audio,
// which the stitcher must ignore), cut from one pattern so the joined video plays it through.
struct Segments {
  StitchRequest request;
  std::vector<Picture> firsts;  // each segment's first picture
};

Segments three_segments(const test::TempDir& dir) {
  Segments made;
  for (int k = 0; k < 3; ++k) {
    const std::string name = "segment" + std::to_string(k + 1);
    const fs::path video = pattern_video(dir, name + "_video.mp4", 2, 2.0 * k, 50);
    const fs::path with_audio = dir / (name + ".mp4");
    ffmpeg(dir, {"-i", video.string(), "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=44100",
                 "-t", "2", "-map", "0:v", "-map", "1:a", "-c:v", "copy", "-c:a", "aac",
                 with_audio.string()});
    made.request.segments.push_back(with_audio);
    made.request.planned_durations_s.push_back(2);
    made.firsts.push_back(pictures_of(video).front());
  }
  made.request.audio = tone_wav(dir, "original.wav", 6);
  made.request.expected_duration_s = 6;
  return made;
}

TEST(Stitch, MatchingSegmentsAreJoinedWithoutReencodingOnTheOriginalAudio) {
  test::TempDir dir;
  const Segments s = three_segments(dir);
  const fs::path out = dir / "out.lipsync.mp4";
  const StitchResult result = stitch_segments(s.request, out, lossless());
  EXPECT_FALSE(result.reencoded) << result.reencode_reason;
  EXPECT_TRUE(result.reencode_reason.empty());
  EXPECT_NEAR(result.duration_s, 6, kFrame);
  EXPECT_NEAR(result.frame_s, kFrame, 1e-6);
  ASSERT_EQ(result.seams.size(), 2U);
  for (const SeamCheck& seam : result.seams) {
    EXPECT_NEAR(seam.planned_at_s, 2.0 * seam.after_segment, 1e-9);
    EXPECT_NEAR(seam.video_at_s, seam.planned_at_s, kFrame);
    EXPECT_LE(std::fabs(seam.offset_s), kFrame);
  }

  const MediaInfo info = probe(out);
  ASSERT_TRUE(info.video && info.audio);
  EXPECT_NEAR(video_seconds(info), 6, kFrame);
  EXPECT_EQ(info.audio->codec, "aac");
  EXPECT_EQ(info.audio->sample_rate, 16000) << "the original track, not the segments' 44.1 kHz";
  EXPECT_NEAR(info.audio->duration_s, 6, 0.07);
  const std::vector<Picture> pictures = pictures_of(out);
  ASSERT_EQ(pictures.size(), 150U);
  for (int k = 0; k < 3; ++k) {
    EXPECT_EQ(pictures[50 * k].checksum, s.firsts[k].checksum) << "segment " << k + 1;
    EXPECT_NEAR(pictures[50 * k].seconds, 2.0 * k, 1e-3);
  }
  // +faststart: the index before the media data.
  std::ifstream in(out, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_LT(bytes.find("moov"), bytes.find("mdat"));
}

TEST(Stitch, AnAudioTrackEncodedBeforehandIsCopied) {
  test::TempDir dir;
  Segments s = three_segments(dir);
  const NormalizedFile track = encode_audio_track(probe(s.request.audio), 6, dir / "original.m4a");
  EXPECT_NEAR(track.duration_s, 6, 1e-9);
  const MediaInfo track_info = probe(track.file);
  ASSERT_TRUE(track_info.audio);
  EXPECT_EQ(track_info.audio->codec, "aac");
  EXPECT_NEAR(track_info.audio->duration_s, 6, 0.07);

  s.request.audio = track.file;
  const fs::path out = dir / "out.mp4";
  const StitchResult result = stitch_segments(s.request, out, lossless());
  EXPECT_FALSE(result.reencoded);
  ASSERT_EQ(result.seams.size(), 2U);
  for (const SeamCheck& seam : result.seams) EXPECT_LE(std::fabs(seam.offset_s), kFrame);
  EXPECT_EQ(audio_packets(out), audio_packets(track.file)) << "copied, not encoded again";
  EXPECT_NEAR(probe(out).audio->duration_s, 6, 0.07);
}

TEST(Stitch, TheAudioIsCutAtTheExpectedLength) {
  test::TempDir dir;
  Segments s = three_segments(dir);
  s.request.audio = tone_wav(dir, "longer.wav", 9);
  const fs::path out = dir / "out.mp4";
  stitch_segments(s.request, out, lossless());
  EXPECT_NEAR(probe(out).audio->duration_s, 6, 0.07);
}

TEST(Stitch, ASegmentOfAnotherSizeMakesItReencodeAndSayWhy) {
  test::TempDir dir;
  Segments s = three_segments(dir);
  s.request.segments[1] = pattern_video(dir, "bigger.mp4", 2, 2, 50, "320x240");
  const fs::path out = dir / "out.mp4";
  const StitchResult result = stitch_segments(s.request, out, lossless());
  EXPECT_TRUE(result.reencoded);
  EXPECT_NE(result.reencode_reason.find("segment 2"), std::string::npos) << result.reencode_reason;
  EXPECT_NE(result.reencode_reason.find("320x240 instead of 160x120"), std::string::npos)
      << result.reencode_reason;
  EXPECT_NEAR(result.duration_s, 6, kFrame);
  ASSERT_EQ(result.seams.size(), 2U);
  for (const SeamCheck& seam : result.seams) EXPECT_LE(std::fabs(seam.offset_s), kFrame);
  const MediaInfo info = probe(out);
  EXPECT_EQ(info.video->width, 160);
  EXPECT_EQ(info.video->height, 120);
  const std::vector<Picture> pictures = pictures_of(out);
  ASSERT_EQ(pictures.size(), 150U);
  EXPECT_EQ(pictures[100].checksum, s.firsts[2].checksum) << "lossless: segment 3 as it was";
}

TEST(Stitch, ASegmentShorterThanPlannedIsNamed) {
  test::TempDir dir;
  Segments s = three_segments(dir);
  s.request.segments[1] = pattern_video(dir, "short.mp4", 1.5, 2, 50);
  std::string message;
  EXPECT_EQ(reason_of([&] { stitch_segments(s.request, dir / "out.mp4", lossless()); }, &message),
            "stitch_check_failed");
  EXPECT_NE(message.find("segment 2 (short.mp4)"), std::string::npos) << message;
  EXPECT_NE(message.find("planned 2"), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(dir / "out.mp4"));
}

TEST(Stitch, ATruncatedSegmentIsNamed) {
  test::TempDir dir;
  Segments s = three_segments(dir);
  const fs::path cut = dir / "truncated.mp4";
  fs::copy_file(s.request.segments[2], cut);
  fs::resize_file(cut, fs::file_size(cut) / 2);
  s.request.segments[2] = cut;
  std::string message;
  EXPECT_EQ(reason_of([&] { stitch_segments(s.request, dir / "out.mp4", lossless()); }, &message),
            "stitch_check_failed");
  EXPECT_NE(message.find("segment 3 (truncated.mp4)"), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(dir / "out.mp4"));
}

TEST(Stitch, AnOutputOffThePlannedDurationFailsItsCheck) {
  test::TempDir dir;
  Segments s = three_segments(dir);
  s.request.expected_duration_s = 6.5;
  s.request.audio = tone_wav(dir, "longer.wav", 7);
  std::string message;
  try {
    stitch_segments(s.request, dir / "out.mp4", lossless());
    ADD_FAILURE() << "the check let a 6 s output pass for a 6.5 s plan";
  } catch (const Error& error) {
    EXPECT_EQ(error.reason_code(), "stitch_check_failed");
    EXPECT_FALSE(error.is_transient());
    EXPECT_NE(std::string(error.what()).find("the plan 6.5"), std::string::npos) << error.what();
  }
  EXPECT_FALSE(fs::exists(dir / "out.mp4")) << "a file that failed its checks is removed";
}

TEST(Stitch, DriftThatAddsUpToMoreThanAFrameAtASeamFailsItsCheck) {
  test::TempDir dir;
  Segments s = three_segments(dir);
  // Each segment is within a frame (0.04 s) of its plan, but by the second seam the video is
  // 0.06 s behind the planned cut; the expected total is the real one.
  s.request.planned_durations_s = {1.97, 1.97, 1.97};
  s.request.expected_duration_s = 6;
  std::string message;
  EXPECT_EQ(reason_of([&] { stitch_segments(s.request, dir / "out.mp4", lossless()); }, &message),
            "stitch_check_failed");
  EXPECT_NE(message.find("at the seam after segment 2"), std::string::npos) << message;
}

TEST(Stitch, AnAudioTrackShorterThanTheVideoFailsItsCheck) {
  test::TempDir dir;
  Segments s = three_segments(dir);
  s.request.audio = tone_wav(dir, "short.wav", 4);
  std::string message;
  EXPECT_EQ(reason_of([&] { stitch_segments(s.request, dir / "out.mp4", lossless()); }, &message),
            "stitch_check_failed");
  EXPECT_NE(message.find("audio lasts"), std::string::npos) << message;
}

TEST(Stitch, DurationsThatDoNotMatchTheSegmentsAreACallersMistake) {
  test::TempDir dir;
  Segments s = three_segments(dir);
  s.request.planned_durations_s.pop_back();
  EXPECT_THROW(stitch_segments(s.request, dir / "out.mp4", lossless()), std::invalid_argument);
}

}  // namespace
}  // namespace lipsyncd::media
