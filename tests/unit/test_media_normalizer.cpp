// Normalized outputs are re-probed: H.264 yuv420p MP4 with even size, constant rate, upright
// pixels, no audio, +faststart, the planned duration; audio is WAV s16le. Compliant inputs are
// remuxed or copied, never re-encoded; pre-trim writes only the planned span; outputs appear
// atomically.

#include <gtest/gtest.h>

extern "C" {
#include <libavformat/avformat.h>
}

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "child_process.hpp"
#include "lipsyncd/config/config.hpp"
#include "lipsyncd/core/error.hpp"
#include "lipsyncd/media/face_check.hpp"
#include "lipsyncd/media/normalizer.hpp"
#include "lipsyncd/media/pair_preparation.hpp"
#include "test_media.hpp"

namespace lipsyncd::media {
namespace {

std::string read_bytes(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The compressed video packets of a file, in order: identical lists mean nothing was re-encoded.
std::vector<std::string> video_packets(const std::filesystem::path& file) {
  AVFormatContext* context = nullptr;
  EXPECT_EQ(avformat_open_input(&context, file.c_str(), nullptr, nullptr), 0);
  EXPECT_GE(avformat_find_stream_info(context, nullptr), 0);
  const int index = av_find_best_stream(context, AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  std::vector<std::string> packets;
  AVPacket* packet = av_packet_alloc();
  while (av_read_frame(context, packet) >= 0) {
    if (packet->stream_index == index) {
      packets.emplace_back(reinterpret_cast<const char*>(packet->data),
                           static_cast<size_t>(packet->size));
    }
    av_packet_unref(packet);
  }
  av_packet_free(&packet);
  avformat_close_input(&context);
  return packets;
}

std::vector<std::string> names_in(const std::filesystem::path& folder) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// What every normalized video must be, whatever it came from.
void expect_model_ready_video(const std::filesystem::path& file, double expected_s) {
  const MediaInfo out = probe(file);
  EXPECT_TRUE(out.container.starts_with("mov,mp4"));
  ASSERT_TRUE(out.video);
  EXPECT_EQ(out.video->codec, "h264");
  EXPECT_EQ(out.video->pixel_format, "yuv420p");
  EXPECT_EQ(out.video->width % 2, 0);
  EXPECT_EQ(out.video->height % 2, 0);
  EXPECT_LE(out.video->height, 1080);
  EXPECT_FALSE(out.video->variable_frame_rate);
  EXPECT_EQ(out.video->rotation, 0);
  EXPECT_FALSE(out.audio) << "the model takes its audio from the audio file";
  EXPECT_NEAR(out.video->duration_s, expected_s, 1.0 / out.video->fps + 1e-3);
  // +faststart: the index (moov) comes before the media data (mdat).
  const std::string bytes = read_bytes(file);
  ASSERT_NE(bytes.find("moov"), std::string::npos);
  EXPECT_LT(bytes.find("moov"), bytes.find("mdat"));
}

TEST(Normalizer, CompliantMp4IsRemuxedPacketForPacket) {
  test::TempDir dir;
  const MediaInfo in = probe(test::media("talk_h264_aac.mp4"));
  EXPECT_FALSE(video_needs_transcode(in, {0, in.duration_s}, MediaConfig{}));
  const NormalizedFile out =
      normalize_video(in, {0, in.duration_s}, dir / "video.mp4", MediaConfig{});
  EXPECT_EQ(out.method, NormalizeMethod::remux);
  expect_model_ready_video(out.file, in.video->duration_s);
  const auto original = video_packets(in.file);
  ASSERT_EQ(original.size(), 120u);
  EXPECT_TRUE(original == video_packets(out.file)) << "packets differ: the video was re-encoded";
}

TEST(Normalizer, MovAndMatroskaWithH264AreRemuxedToo) {
  test::TempDir dir;
  for (const char* name : {"talk_h264.mov", "talk.mkv"}) {
    SCOPED_TRACE(name);
    const MediaInfo in = probe(test::media(name));
    const NormalizedFile out =
        normalize_video(in, {0, in.duration_s}, dir / "v.mp4", MediaConfig{});
    EXPECT_EQ(out.method, NormalizeMethod::remux);
    expect_model_ready_video(out.file, in.video->duration_s);
    EXPECT_TRUE(video_packets(in.file) == video_packets(out.file));
  }
}

TEST(Normalizer, OtherCodecsOddSizesAndVariableRatesAreTranscoded) {
  test::TempDir dir;
  for (const char* name : {"odd_dims_721x405.avi", "talk_vp9_opus.webm", "talk_hevc.mp4",
                           "talk_mpeg4.avi", "vfr.mp4"}) {
    SCOPED_TRACE(name);
    const MediaInfo in = probe(test::media(name));
    EXPECT_TRUE(video_needs_transcode(in, {0, in.duration_s}, MediaConfig{}));
    const NormalizedFile out =
        normalize_video(in, {0, in.duration_s}, dir / "v.mp4", MediaConfig{});
    EXPECT_EQ(out.method, NormalizeMethod::transcode);
    expect_model_ready_video(out.file, std::min(in.duration_s, in.video->duration_s));
    EXPECT_NEAR(out.duration_s, probe(out.file).video->duration_s, 0.05);
  }
  const MediaInfo odd = probe(dir / "v.mp4");  // the last one: vfr.mp4, now constant-rate
  EXPECT_FALSE(odd.video->variable_frame_rate);
  const MediaInfo in = probe(test::media("odd_dims_721x405.avi"));
  normalize_video(in, {0, in.duration_s}, dir / "odd.mp4", MediaConfig{});
  EXPECT_EQ(probe(dir / "odd.mp4").video->width, 720);
  EXPECT_EQ(probe(dir / "odd.mp4").video->height, 404);
}

TEST(Normalizer, HeightIsCappedKeepingTheShape) {
  test::TempDir dir;
  MediaConfig config;
  config.max_height = 360;
  const MediaInfo in = probe(test::media("talk_h264_aac.mp4"));
  EXPECT_TRUE(video_needs_transcode(in, {0, in.duration_s}, config));
  normalize_video(in, {0, in.duration_s}, dir / "small.mp4", config);
  const MediaInfo out = probe(dir / "small.mp4");
  EXPECT_EQ(out.video->width, 640);
  EXPECT_EQ(out.video->height, 360);
}

TEST(Normalizer, PreTrimWritesOnlyThePlannedSpan) {
  test::TempDir dir;
  const MediaInfo video = probe(test::media("real_talk_monalisa_720p.mp4"));
  const NormalizedFile out = normalize_video(video, {0, 0.633}, dir / "v.mp4", MediaConfig{});
  EXPECT_EQ(out.method, NormalizeMethod::transcode);  // a cut is never a plain remux
  expect_model_ready_video(out.file, 0.633);
  const MediaInfo audio = probe(test::media("tts_en_12s.wav"));
  const NormalizedFile wav = normalize_audio(audio, {0, 0.633}, dir / "a.wav", MediaConfig{});
  EXPECT_NEAR(probe(wav.file).duration_s, 0.633, 0.001);
}

// A phone-style clip: pixels stored sideways, a display matrix saying "turn 90 degrees
// clockwise". The face is only found when the rotation is applied, before and after
// normalization. (../shared/media/rotated_90.mp4 is such a clip too; the manifest test
// checks its rotation and face.)
TEST(Normalizer, RotationIsAppliedSoTheFaceIsUpright) {
  test::TempDir dir;
  // ffmpeg 5.1 only turns the rotate tag into a display matrix when it copies the stream, and
  // reads the tag counter-clockwise: rotate=270 is the matrix phones write ("turn clockwise").
  const auto turned = dir / "turned.mp4";
  const auto sideways = dir / "sideways.mp4";
  ASSERT_EQ(test::run_to_completion(
                {"/usr/bin/ffmpeg", "-nostdin", "-v", "error", "-i",
                 test::media("talk_h264_aac.mp4").string(), "-t", "2", "-vf", "transpose=cclock",
                 "-an", "-c:v", "libx264", "-preset", "ultrafast", turned.string()},
                dir / "ffmpeg.log"),
            0);
  ASSERT_EQ(
      test::run_to_completion({"/usr/bin/ffmpeg", "-nostdin", "-v", "error", "-i", turned.string(),
                               "-c", "copy", "-metadata:s:v:0", "rotate=270", sideways.string()},
                              dir / "ffmpeg.log"),
      0);
  const MediaInfo in = probe(sideways);
  ASSERT_TRUE(in.video);
  EXPECT_EQ(in.video->rotation, 90);
  EXPECT_EQ(in.video->display_width(), 1280);
  FaceConfig faces;  // a few samples suffice for a 2 s clip and keep the test quick
  faces.min_samples = 4;
  faces.max_samples = 4;
  EXPECT_GE(check_faces(in, {0, in.duration_s}, faces).visible_ratio, 0.9);
  MediaInfo ignoring_rotation = in;
  ignoring_rotation.video->rotation = 0;
  EXPECT_LT(check_faces(ignoring_rotation, {0, in.duration_s}, faces).visible_ratio, 0.5)
      << "a sideways face should not be found: the rotation check proves nothing";

  const NormalizedFile out =
      normalize_video(in, {0, in.duration_s}, dir / "upright.mp4", MediaConfig{});
  expect_model_ready_video(out.file, in.video->duration_s);
  const MediaInfo upright = probe(out.file);
  EXPECT_EQ(upright.video->width, 1280);
  EXPECT_EQ(upright.video->height, 720);
  EXPECT_GE(check_faces(upright, {0, upright.duration_s}, faces).visible_ratio, 0.9);
}

TEST(Normalizer, AudioBecomesWavS16KeepingItsRate) {
  test::TempDir dir;
  struct Case {
    const char* file;
    int rate;
    int channels;
  };
  for (const Case& c : {Case{"speech_48k_s24.wav", 48000, 1}, Case{"real_speech_42s.mp3", 48000, 2},
                        Case{"speech.flac", 16000, 1}, Case{"speech.aac", 16000, 1},
                        Case{"speech.m4a", 16000, 1}, Case{"speech.ogg", 48000, 1},
                        Case{"audio_only.mp4", 16000, 1}, Case{"talk_vp9_opus.webm", 48000, 1}}) {
    SCOPED_TRACE(c.file);
    const MediaInfo in = probe(test::media(c.file));
    EXPECT_TRUE(audio_needs_transcode(in, {0, in.duration_s}, MediaConfig{}));
    const NormalizedFile out =
        normalize_audio(in, {0, in.duration_s}, dir / "a.wav", MediaConfig{});
    EXPECT_EQ(out.method, NormalizeMethod::transcode);
    const MediaInfo wav = probe(out.file);
    EXPECT_EQ(wav.container, "wav");
    ASSERT_TRUE(wav.audio);
    EXPECT_EQ(wav.audio->codec, "pcm_s16le");
    EXPECT_EQ(wav.audio->sample_rate, c.rate);
    EXPECT_EQ(wav.audio->channels, c.channels);
    EXPECT_NEAR(wav.duration_s, in.duration_s, 0.15);
    EXPECT_NEAR(wav.duration_s, out.duration_s, 0.001);
  }
}

TEST(Normalizer, ConfiguredSampleRateIsApplied) {
  test::TempDir dir;
  MediaConfig config;
  config.audio_sample_rate = 16000;
  const MediaInfo in = probe(test::media("speech_48k_s16.wav"));
  EXPECT_TRUE(audio_needs_transcode(in, {0, in.duration_s}, config));
  normalize_audio(in, {0, in.duration_s}, dir / "a.wav", config);
  EXPECT_EQ(probe(dir / "a.wav").audio->sample_rate, 16000);
  EXPECT_NEAR(probe(dir / "a.wav").duration_s, in.duration_s, 0.001);
}

TEST(Normalizer, CompliantWavIsCopiedByteForByte) {
  test::TempDir dir;
  const MediaInfo in = probe(test::media("speech_48k_s16.wav"));
  const NormalizedFile out = normalize_audio(in, {0, in.duration_s}, dir / "a.wav", MediaConfig{});
  EXPECT_EQ(out.method, NormalizeMethod::pass_through);
  EXPECT_TRUE(read_bytes(in.file) == read_bytes(out.file));
}

TEST(Normalizer, AFailedWriteLeavesNoFileBehind) {
  test::TempDir dir;
  const MediaInfo in = probe(test::media("talk_vp9_opus.webm"));
  try {
    normalize_video(in, {0, in.duration_s}, dir / "missing-folder" / "v.mp4", MediaConfig{});
    ADD_FAILURE() << "writing into a missing folder should fail";
  } catch (const Error& error) {
    EXPECT_EQ(error.reason_code(), "disk_error");
    EXPECT_TRUE(error.is_transient());
  }
  EXPECT_TRUE(names_in(dir.path()).empty());
}

TEST(PairPreparation, WritesExactlyTheTwoNormalizedFiles) {
  test::TempDir dir;
  const PreparedPair pair =
      prepare_pair(test::media("real_talk_monalisa_720p.mp4"), test::media("speech_1s.wav"),
                   dir.path(), default_config({}));
  EXPECT_EQ(pair.report.verdict, Verdict::accept);
  EXPECT_EQ(pair.report.plan->mode, SyncMode::cut_off);
  // No temporary file is left beside the results.
  EXPECT_EQ(names_in(dir.path()), (std::vector<std::string>{"audio.wav", "video.mp4"}));
  expect_model_ready_video(pair.video.file, 0.633);
  EXPECT_EQ(pair.audio.method, NormalizeMethod::pass_through);
  EXPECT_NEAR(probe(pair.audio.file).duration_s, 0.633, 0.001);
}

TEST(PairPreparation, ARejectedPairThrowsItsReasonAndWritesNothing) {
  test::TempDir dir;
  try {
    prepare_pair(test::media("noface_testsrc.mp4"), test::media("speech_5s.wav"), dir.path(),
                 default_config({}));
    ADD_FAILURE() << "a clip without a face must not be prepared for upload";
  } catch (const Error& error) {
    EXPECT_EQ(error.reason_code(), "no_face");
    EXPECT_FALSE(error.is_transient());
  }
  EXPECT_TRUE(names_in(dir.path()).empty());
}

}  // namespace
}  // namespace lipsyncd::media
