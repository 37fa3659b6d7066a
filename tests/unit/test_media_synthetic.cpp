// Media the shared corpus does not hold, made here with ffmpeg from its files: an MP4 with its
// index at the front cut off halfway (its header promises twice what its data holds), a file
// with two video streams, and a phone clip that lost its rotation tag.

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "child_process.hpp"
#include "lipsyncd/config/config.hpp"
#include "lipsyncd/core/error.hpp"
#include "lipsyncd/media/face_check.hpp"
#include "lipsyncd/media/media_info.hpp"
#include "lipsyncd/media/pair_check.hpp"
#include "lipsyncd/media/pair_report.hpp"
#include "ssd_config.hpp"
#include "test_media.hpp"

namespace lipsyncd::media {
namespace {

namespace fs = std::filesystem;

void ffmpeg(const test::TempDir& dir, std::vector<std::string> arguments) {
  std::vector<std::string> argv = {"/usr/bin/ffmpeg", "-nostdin", "-v", "error", "-y"};
  argv.insert(argv.end(), arguments.begin(), arguments.end());
  ASSERT_EQ(test::run_to_completion(argv, dir / "ffmpeg.log"), 0)
      << test::read_text(dir / "ffmpeg.log");
}

std::string reason_of_probe(const fs::path& file) {
  try {
    probe(file);
  } catch (const Error& error) {
    return error.reason_code();
  }
  return "no error";
}

// The typical failed copy: an MP4 whose index (moov) is at the front, cut at half its bytes.
// Opening it works and the header states the full duration; only a pass over the packets
// shows the data ends halfway. It is refused as `truncated`, before any face is looked for
// (the decoder's garbage once "found" several faces in it).
TEST(Truncation, AFaststartMp4CutAtHalfIsRefusedAsTruncated) {
  test::TempDir dir;
  const auto whole = dir / "whole.mp4";
  ffmpeg(dir, {"-i", test::media("real_talk_monalisa_720p.mp4").string(), "-c", "copy", "-movflags",
               "+faststart", whole.string()});
  ASSERT_NO_THROW(probe(whole));  // the complete file is fine
  const auto cut = dir / "cut.mp4";
  fs::copy_file(whole, cut);
  fs::resize_file(cut, fs::file_size(whole) / 2);

  EXPECT_EQ(reason_of_probe(cut), "truncated");
  try {
    probe(cut);
  } catch (const Error& error) {
    // The message gives both lengths; the hint says what to do.
    EXPECT_NE(std::string(error.what()).find("14.2"), std::string::npos) << error.what();
    EXPECT_FALSE(error.hint().empty());
  }
  const Config config = default_config({});
  const PairReport as_video = check_pair(cut, test::media("real_speech_16k.wav"), config);
  EXPECT_EQ(as_video.verdict, Verdict::reject);
  EXPECT_EQ(as_video.reason_code, "truncated");
  EXPECT_FALSE(as_video.face) << "a cut-off file never reaches the face check";
  const PairReport as_audio = check_pair(test::media("talk_h264_aac.mp4"), cut, config);
  EXPECT_EQ(as_audio.reason_code, "truncated");
}

// A cut that only loses the last few frames is not worth refusing... but a second is.
TEST(Truncation, OnlyARealShortfallCounts) {
  test::TempDir dir;
  const auto whole = dir / "whole.mp4";
  ffmpeg(dir, {"-i", test::media("real_talk_monalisa_720p.mp4").string(), "-c", "copy", "-movflags",
               "+faststart", whole.string()});
  const auto size = fs::file_size(whole);
  const auto nearly = dir / "nearly.mp4";
  fs::copy_file(whole, nearly);
  fs::resize_file(nearly, size - size / 200);  // the last 0.5 %: a frame or two
  EXPECT_EQ(reason_of_probe(nearly), "no error");
  const auto quarter_lost = dir / "three_quarters.mp4";
  fs::copy_file(whole, quarter_lost);
  fs::resize_file(quarter_lost, size * 3 / 4);
  EXPECT_EQ(reason_of_probe(quarter_lost), "truncated");
}

// A phone clip that lost its rotation tag: the pixels lie on their side and nothing says so.
// Not "no face": the face is there, turned a quarter, and the hint says how to turn it back.
TEST(SidewaysSpeaker, AClipThatLostItsRotationTagGetsItsOwnReasonAndHint) {
  test::TempDir dir;
  const auto sideways = dir / "sideways.mp4";
  // transpose=2 turns the picture 90 degrees counter-clockwise, as a phone held sideways
  // records it; no rotate tag is written.
  ffmpeg(dir, {"-i", test::media("talk_h264_aac.mp4").string(), "-t", "3", "-vf", "transpose=2",
               "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "copy", sideways.string()});
  const MediaInfo info = probe(sideways);
  ASSERT_TRUE(info.video);
  EXPECT_EQ(info.video->rotation, 0);
  const PairReport report = check_pair(sideways, test::media("speech_5s.wav"), default_config({}));
  EXPECT_EQ(report.verdict, Verdict::reject);
  EXPECT_EQ(report.reason_code, "face_sideways") << report.message;
  ASSERT_TRUE(report.face);
  EXPECT_EQ(report.face->sideways_turn, "clockwise");
  EXPECT_NE(report.hint.find("transpose=1"), std::string::npos) << report.hint;
  // The upright original is of course fine: the rule does not fire on faces it can see.
  EXPECT_EQ(
      check_pair(test::media("talk_h264_aac.mp4"), test::media("speech_5s.wav"), default_config({}))
          .verdict,
      Verdict::accept);
}

// The SSD, unlike the cascade, also finds a face lying on its side, in the small-face second
// look's tiles. That must not turn the lost rotation tag into "face too small": the face is
// large, and the clip gets the same reason and hint as with Haar.
TEST(SidewaysSpeaker, TheSsdDetectorGivesTheSameReason) {
  test::TempDir dir;
  const auto sideways = dir / "sideways.mp4";
  ffmpeg(dir, {"-i", test::media("talk_h264_aac.mp4").string(), "-t", "3", "-vf", "transpose=2",
               "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "copy", sideways.string()});
  const Config ssd = test::ssd_config();
  const PairReport report = check_pair(sideways, test::media("speech_5s.wav"), ssd);
  EXPECT_EQ(report.verdict, Verdict::reject);
  EXPECT_EQ(report.reason_code, "face_sideways") << report.message;
  ASSERT_TRUE(report.face);
  EXPECT_EQ(report.face->detector, "ssd");
  EXPECT_EQ(report.face->sideways_turn, "clockwise");
  EXPECT_EQ(check_pair(test::media("talk_h264_aac.mp4"), test::media("speech_5s.wav"), ssd).verdict,
            Verdict::accept);
}

// A talking face in stream 0 and a larger test pattern in stream 1: the stream a player
// shows is used (the default one, else the first), the report says so, and when the shown
// stream has no face but another has, the message names that stream.
TEST(SeveralVideoStreams, TheStreamAPlayerShowsIsChecked) {
  test::TempDir dir;
  const auto two = dir / "two_streams.mp4";
  const std::vector<std::string> inputs = {"-i",      test::media("talk_h264_aac.mp4").string(),
                                           "-f",      "lavfi",
                                           "-i",      "testsrc2=size=1920x1080:rate=30",
                                           "-map",    "0:v",
                                           "-map",    "1:v",
                                           "-map",    "0:a",
                                           "-t",      "3",
                                           "-c:v",    "libx264",
                                           "-preset", "ultrafast",
                                           "-c:a",    "copy"};
  std::vector<std::string> arguments = inputs;
  arguments.push_back(two.string());
  ffmpeg(dir, arguments);
  const MediaInfo info = probe(two);
  ASSERT_TRUE(info.video);
  EXPECT_EQ(info.video->stream_index, 0);
  EXPECT_EQ(info.video->other_video_streams, 1);
  EXPECT_EQ(info.video->width, 1280);
  const PairReport report = check_pair(two, test::media("speech_5s.wav"), default_config({}));
  EXPECT_EQ(report.verdict, Verdict::accept) << report.message;
  const std::string text = to_text(report);
  EXPECT_NE(text.find("video stream #0"), std::string::npos) << text;
  EXPECT_NE(text.find("1 other video stream"), std::string::npos) << text;

  // The test pattern marked as the default: that is what players show, so it is checked,
  // and the message points at the stream with the face.
  const auto pattern_first = dir / "pattern_default.mp4";
  arguments = inputs;
  for (const char* option : {"-disposition:v:0", "0", "-disposition:v:1", "default"}) {
    arguments.push_back(option);
  }
  arguments.push_back(pattern_first.string());
  ffmpeg(dir, arguments);
  const MediaInfo shown = probe(pattern_first);
  ASSERT_TRUE(shown.video);
  EXPECT_EQ(shown.video->stream_index, 1);
  const PairReport rejected =
      check_pair(pattern_first, test::media("speech_5s.wav"), default_config({}));
  EXPECT_EQ(rejected.reason_code, "no_face");
  ASSERT_TRUE(rejected.face);
  EXPECT_EQ(rejected.face->face_in_other_stream, 0);
  EXPECT_NE(rejected.message.find("stream #0 shows a face"), std::string::npos) << rejected.message;
  EXPECT_NE(rejected.hint.find("-map 0:0"), std::string::npos) << rejected.hint;
}

}  // namespace
}  // namespace lipsyncd::media
