// The long-form media primitives on synthetic media made here with ffmpeg (a moving test pattern
// and a tone): cutting a segment (stream copy on keyframes, a frame-accurate re-encode
// otherwise), cutting audio to the sample with silence past its end, extending a video by loop /
// bounce / silence. Pictures are compared by checksum: the tests encode losslessly (crf 0), so a
// re-encoded frame still equals its source bit for bit.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "lipsyncd/config/config.hpp"
#include "lipsyncd/core/error.hpp"
#include "lipsyncd/media/media_info.hpp"
#include "lipsyncd/media/segment_media.hpp"
#include "synthetic_media.hpp"
#include "test_media.hpp"

namespace lipsyncd::media {
namespace {

namespace fs = std::filesystem;
using namespace synthetic;

// ---- cut_video ----

TEST(CutVideo, ASpanOnKeyframesIsCopiedPacketForPacket) {
  test::TempDir dir;
  const fs::path clip = pattern_video(dir, "clip.mp4", 4);  // keyframes at 0, 1, 2, 3 s
  const MediaInfo info = probe(clip);
  EXPECT_TRUE(video_span_on_keyframes(info, {1, 2}));
  const NormalizedFile cut = cut_video(info, {1, 2}, dir / "cut.mp4", lossless());
  EXPECT_EQ(cut.method, NormalizeMethod::remux);
  EXPECT_NEAR(cut.duration_s, 2, kFrame);
  EXPECT_NEAR(video_seconds(probe(cut.file)), 2, kFrame);

  const std::vector<Picture> source = pictures_of(clip);
  const std::vector<Picture> pictures = pictures_of(cut.file);
  ASSERT_EQ(pictures.size(), 50U);
  EXPECT_NEAR(pictures.front().seconds, 0, 1e-3);
  EXPECT_EQ(pictures.front().checksum, source[25].checksum) << "starts with the frame at 1 s";
  EXPECT_EQ(pictures.back().checksum, source[74].checksum) << "ends with the frame before 3 s";
}

TEST(CutVideo, ASpanToTheStreamsEndNeedsOnlyAKeyframeAtItsStart) {
  test::TempDir dir;
  const fs::path clip = pattern_video(dir, "clip.mp4", 3.2);
  const MediaInfo info = probe(clip);
  const NormalizedFile cut = cut_video(info, {2, 1.2}, dir / "cut.mp4", lossless());
  EXPECT_EQ(cut.method, NormalizeMethod::remux);
  EXPECT_NEAR(video_seconds(probe(cut.file)), 1.2, kFrame);
}

TEST(CutVideo, KeyframesOpeningAnOpenGopAreNoCutPoints) {
  test::TempDir dir;
  const fs::path closed = pattern_video(dir, "closed.mp4", 4);
  EXPECT_EQ(video_keyframes(probe(closed)), (std::vector<double>{0, 1, 2, 3}));
  // Open GOPs: the B-frames shown just before each later keyframe are decoded after it and
  // reference it, so neither segment around such a keyframe could be copied.
  const fs::path open = dir / "open.mp4";
  ffmpeg(dir,
         {"-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25", "-t", "4", "-c:v", "libx264",
          "-preset", "veryfast", "-x264-params", "open-gop=1:keyint=25:min-keyint=25:scenecut=0",
          "-pix_fmt", "yuv420p", "-an", open.string()});
  const MediaInfo info = probe(open);
  const std::vector<double> keyframes = video_keyframes(info);
  ASSERT_FALSE(keyframes.empty());
  EXPECT_EQ(keyframes.front(), 0);
  // x264 decides GOP by GOP whether B-frames lead it; those at 1 s and 2 s do here.
  EXPECT_EQ(std::count(keyframes.begin(), keyframes.end(), 1.0), 0);
  EXPECT_EQ(std::count(keyframes.begin(), keyframes.end(), 2.0), 0);
  const NormalizedFile cut = cut_video(info, {1, 2}, dir / "cut.mp4", lossless());
  EXPECT_EQ(cut.method, NormalizeMethod::transcode);
  EXPECT_NEAR(video_seconds(probe(cut.file)), 2, kFrame);
}

TEST(CutVideo, ASpanOffKeyframesIsReencodedFrameAccurately) {
  test::TempDir dir;
  const fs::path clip = pattern_video(dir, "clip.mp4", 4);
  const MediaInfo info = probe(clip);
  const TimeSpan span{1.32, 1.4};  // frames 33 to 67
  EXPECT_FALSE(video_span_on_keyframes(info, span));
  const NormalizedFile cut = cut_video(info, span, dir / "cut.mp4", lossless());
  EXPECT_EQ(cut.method, NormalizeMethod::transcode);
  EXPECT_NEAR(video_seconds(probe(cut.file)), 1.4, kFrame);

  const std::vector<Picture> source = pictures_of(clip);
  const std::vector<Picture> pictures = pictures_of(cut.file);
  ASSERT_EQ(pictures.size(), 35U);
  EXPECT_NEAR(pictures.front().seconds, 0, 1e-3);
  EXPECT_EQ(pictures.front().checksum, source[33].checksum) << "the frame at 1.32 s, exactly";
  EXPECT_EQ(pictures.back().checksum, source[67].checksum);
}

TEST(CutVideo, AnEndOffAKeyframeIsReencodedToo) {
  test::TempDir dir;
  const fs::path clip = pattern_video(dir, "clip.mp4", 4);
  const MediaInfo info = probe(clip);
  EXPECT_FALSE(video_span_on_keyframes(info, {1, 1.5}));
  const NormalizedFile cut = cut_video(info, {1, 1.5}, dir / "cut.mp4", lossless());
  EXPECT_EQ(cut.method, NormalizeMethod::transcode);
  EXPECT_NEAR(video_seconds(probe(cut.file)), 1.5, kFrame);
}

// ---- cut_audio ----

TEST(CutAudio, TheExactSampleRange) {
  test::TempDir dir;
  const fs::path tone = tone_wav(dir, "tone.wav", 3);
  const NormalizedFile cut = cut_audio(probe(tone), {1.25, 0.5}, dir / "cut.wav", lossless());
  const std::vector<std::int16_t> source = samples_of(tone);
  const std::vector<std::int16_t> samples = samples_of(cut.file);
  ASSERT_EQ(samples.size(), 8000U);
  EXPECT_TRUE(std::equal(samples.begin(), samples.end(), source.begin() + 20000));
  EXPECT_NEAR(cut.duration_s, 0.5, 1e-9);
}

TEST(CutAudio, PastTheEndIsPaddedWithDigitalSilence) {
  test::TempDir dir;
  const fs::path tone = tone_wav(dir, "tone.wav", 2);
  const NormalizedFile cut = cut_audio(probe(tone), {1.5, 1.25}, dir / "cut.wav", lossless());
  const std::vector<std::int16_t> source = samples_of(tone);
  const std::vector<std::int16_t> samples = samples_of(cut.file);
  ASSERT_EQ(samples.size(), 20000U);  // 1.25 s at 16 kHz
  EXPECT_TRUE(std::equal(samples.begin(), samples.begin() + 8000, source.begin() + 24000));
  EXPECT_TRUE(std::all_of(samples.begin() + 8000, samples.end(), [](auto s) { return s == 0; }));
  EXPECT_NEAR(probe(cut.file).audio->duration_s, 1.25, 1e-3);
}

// ---- extend_video ----

struct Extended {
  std::vector<Picture> source;
  std::vector<Picture> pictures;
};

Extended extend(const test::TempDir& dir, SyncMode mode, double source_s, double length_s,
                int gop = 25) {
  const fs::path clip = pattern_video(dir, "clip.mp4", source_s, 0, gop);
  const fs::path out = dir / "extended.mp4";
  const NormalizedFile made = extend_video(probe(clip), mode, length_s, out, lossless());
  EXPECT_EQ(made.method, NormalizeMethod::transcode);
  EXPECT_NEAR(made.duration_s, length_s, kFrame);
  const MediaInfo info = probe(out);
  EXPECT_NEAR(video_seconds(info), length_s, kFrame);
  EXPECT_EQ(info.video->codec, "h264");
  EXPECT_EQ(info.video->pixel_format, "yuv420p");
  EXPECT_FALSE(info.audio);
  return {pictures_of(clip), pictures_of(out)};
}

TEST(ExtendVideo, LoopRepeatsTheClip) {
  test::TempDir dir;
  const Extended e = extend(dir, SyncMode::loop, 2, 5.2);
  ASSERT_EQ(e.source.size(), 50U);
  ASSERT_EQ(e.pictures.size(), 130U);
  for (std::size_t i = 0; i < e.pictures.size(); ++i) {
    ASSERT_EQ(e.pictures[i].checksum, e.source[i % 50].checksum) << "frame " << i;
  }
}

TEST(ExtendVideo, BounceGoesForwardThenBackwardWithoutDoublingTheTurns) {
  test::TempDir dir;
  // Keyframes every 10 frames: the backward passes decode the clip GOP by GOP.
  const Extended e = extend(dir, SyncMode::bounce, 2, 6, 10);
  ASSERT_EQ(e.source.size(), 50U);
  ASSERT_EQ(e.pictures.size(), 150U);
  // 0..49, 48..1, 0..49, 48..1, ...: a period of 98 frames.
  for (std::size_t i = 0; i < e.pictures.size(); ++i) {
    const std::size_t phase = i % 98;
    const std::size_t expected = phase < 50 ? phase : 98 - phase;
    ASSERT_EQ(e.pictures[i].checksum, e.source[expected].checksum) << "frame " << i;
  }
}

TEST(ExtendVideo, SilenceHoldsTheLastFrame) {
  test::TempDir dir;
  const Extended e = extend(dir, SyncMode::silence, 2, 3.6);
  ASSERT_EQ(e.pictures.size(), 90U);
  for (std::size_t i = 0; i < e.pictures.size(); ++i) {
    ASSERT_EQ(e.pictures[i].checksum, e.source[std::min<std::size_t>(i, 49)].checksum)
        << "frame " << i;
  }
}

TEST(ExtendVideo, AClipLongerThanTheLengthIsCut) {
  test::TempDir dir;
  const Extended e = extend(dir, SyncMode::loop, 3, 1.2);
  EXPECT_EQ(e.pictures.size(), 30U);
}

TEST(ExtendVideo, ModesWithoutAnExtensionAreRefused) {
  test::TempDir dir;
  const fs::path clip = pattern_video(dir, "clip.mp4", 1);
  EXPECT_THROW(extend_video(probe(clip), SyncMode::cut_off, 3, dir / "x.mp4", lossless()),
               std::invalid_argument);
  EXPECT_THROW(extend_video(probe(clip), SyncMode::remap, 3, dir / "x.mp4", lossless()),
               std::invalid_argument);
  EXPECT_FALSE(fs::exists(dir / "x.mp4"));
}

}  // namespace
}  // namespace lipsyncd::media
