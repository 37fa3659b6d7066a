// The long-form media primitives on synthetic media made here with ffmpeg (a moving test pattern
// and a tone): cutting a segment (stream copy on keyframes, a frame-accurate re-encode
// otherwise), cutting audio to the sample with silence past its end, extending a video by loop /
// bounce / silence, and the stitcher with its checks. Pictures are compared by checksum: the
// tests encode losslessly (crf 0), so a re-encoded frame still equals its source bit for bit.

#include <gtest/gtest.h>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
}

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "child_process.hpp"
#include "lipsyncd/config/config.hpp"
#include "lipsyncd/core/error.hpp"
#include "lipsyncd/media/media_info.hpp"
#include "lipsyncd/media/segment_media.hpp"
#include "lipsyncd/media/stitch.hpp"
#include "test_media.hpp"

namespace lipsyncd::media {
namespace {

namespace fs = std::filesystem;

constexpr double kFrame = 1.0 / 25;  // every video made here runs at 25 fps

void ffmpeg(const test::TempDir& dir, std::vector<std::string> arguments) {
  std::vector<std::string> argv = {"/usr/bin/ffmpeg", "-nostdin", "-v", "error", "-y"};
  argv.insert(argv.end(), arguments.begin(), arguments.end());
  ASSERT_EQ(test::run_to_completion(argv, dir / "ffmpeg.log"), 0)
      << test::read_text(dir / "ffmpeg.log");
}

// A moving test pattern starting `from_s` into it, 25 fps, H.264 yuv420p without audio, a
// keyframe every `gop` frames; veryfast has B-frames, so seams meet reordered frames.
fs::path pattern_video(const test::TempDir& dir, const std::string& name, double seconds,
                       double from_s = 0, int gop = 25, const std::string& size = "160x120") {
  const fs::path file = dir / name;
  ffmpeg(dir, {"-f",
               "lavfi",
               "-i",
               "testsrc2=size=" + size + ":rate=25",
               "-ss",
               std::to_string(from_s),
               "-t",
               std::to_string(seconds),
               "-c:v",
               "libx264",
               "-preset",
               "veryfast",
               "-g",
               std::to_string(gop),
               "-keyint_min",
               std::to_string(gop),
               "-sc_threshold",
               "0",
               "-pix_fmt",
               "yuv420p",
               "-an",
               "-movflags",
               "+faststart",
               file.string()});
  return file;
}

fs::path tone_wav(const test::TempDir& dir, const std::string& name, double seconds,
                  int frequency = 440) {
  const fs::path file = dir / name;
  ffmpeg(dir,
         {"-f", "lavfi", "-i", "sine=frequency=" + std::to_string(frequency) + ":sample_rate=16000",
          "-t", std::to_string(seconds), "-c:a", "pcm_s16le", "-map_metadata", "-1", "-fflags",
          "+bitexact", file.string()});
  return file;
}

MediaConfig lossless() {
  MediaConfig config;
  config.x264_preset = "ultrafast";
  config.x264_crf = 0;  // lossless: a re-encoded picture equals its source
  return config;
}

struct Picture {
  double seconds = 0;
  std::uint64_t checksum = 0;
};

// Every picture of the shown video stream, in presentation order, with a checksum of its planes.
std::vector<Picture> pictures_of(const fs::path& file) {
  std::vector<Picture> pictures;
  AVFormatContext* format = nullptr;
  EXPECT_EQ(avformat_open_input(&format, file.c_str(), nullptr, nullptr), 0);
  if (format == nullptr) return pictures;
  EXPECT_GE(avformat_find_stream_info(format, nullptr), 0);
  const AVCodec* codec = nullptr;
  const int index = av_find_best_stream(format, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
  EXPECT_GE(index, 0);
  AVStream* stream = format->streams[index];
  AVCodecContext* decoder = avcodec_alloc_context3(codec);
  avcodec_parameters_to_context(decoder, stream->codecpar);
  EXPECT_EQ(avcodec_open2(decoder, codec, nullptr), 0);
  AVPacket* packet = av_packet_alloc();
  AVFrame* frame = av_frame_alloc();
  const auto drain = [&] {
    while (avcodec_receive_frame(decoder, frame) == 0) {
      std::uint64_t hash = 1469598103934665603ULL;
      for (int plane = 0; plane < 3; ++plane) {
        const int rows = plane == 0 ? frame->height : (frame->height + 1) / 2;
        const int width = plane == 0 ? frame->width : (frame->width + 1) / 2;
        for (int y = 0; y < rows; ++y) {
          const std::uint8_t* row =
              frame->data[plane] + static_cast<long>(y) * frame->linesize[plane];
          for (int x = 0; x < width; ++x) hash = (hash ^ row[x]) * 1099511628211ULL;
        }
      }
      const int64_t start = stream->start_time == AV_NOPTS_VALUE ? 0 : stream->start_time;
      pictures.push_back(
          {static_cast<double>(frame->best_effort_timestamp - start) * av_q2d(stream->time_base),
           hash});
      av_frame_unref(frame);
    }
  };
  while (av_read_frame(format, packet) >= 0) {
    if (packet->stream_index == index) {
      avcodec_send_packet(decoder, packet);
      drain();
    }
    av_packet_unref(packet);
  }
  avcodec_send_packet(decoder, nullptr);
  drain();
  av_frame_free(&frame);
  av_packet_free(&packet);
  avcodec_free_context(&decoder);
  avformat_close_input(&format);
  return pictures;
}

// The compressed packets of a file's audio stream, in order.
std::vector<std::string> audio_packets(const fs::path& file) {
  std::vector<std::string> packets;
  AVFormatContext* format = nullptr;
  EXPECT_EQ(avformat_open_input(&format, file.c_str(), nullptr, nullptr), 0);
  if (format == nullptr) return packets;
  EXPECT_GE(avformat_find_stream_info(format, nullptr), 0);
  const int index = av_find_best_stream(format, AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
  AVPacket* packet = av_packet_alloc();
  while (av_read_frame(format, packet) >= 0) {
    if (packet->stream_index == index) {
      packets.emplace_back(reinterpret_cast<const char*>(packet->data),
                           static_cast<size_t>(packet->size));
    }
    av_packet_unref(packet);
  }
  av_packet_free(&packet);
  avformat_close_input(&format);
  return packets;
}

// The samples of a mono s16le WAV.
std::vector<std::int16_t> samples_of(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::size_t at = 12;
  while (at + 8 <= bytes.size()) {
    std::uint32_t size = 0;
    std::memcpy(&size, bytes.data() + at + 4, 4);
    if (bytes.compare(at, 4, "data") == 0) {
      std::vector<std::int16_t> samples(std::min<std::size_t>(size, bytes.size() - at - 8) / 2);
      std::memcpy(samples.data(), bytes.data() + at + 8, samples.size() * 2);
      return samples;
    }
    at += 8 + size + (size % 2);
  }
  ADD_FAILURE() << "no data chunk in " << file;
  return {};
}

std::string reason_of(const std::function<void()>& action, std::string* message = nullptr) {
  try {
    action();
  } catch (const Error& error) {
    if (message != nullptr) *message = error.what();
    return error.reason_code();
  }
  return "no error";
}

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
