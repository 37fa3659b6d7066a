// The emulator's output must have the length fal's sync modes give (within one frame), in both
// directions of mismatch, and carry the submitted audio as H.264 + AAC: lipsyncd's duration
// policy and its outbox checks are only as good as this double. Inputs come from PAIRS.json.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include "command_runner.hpp"
#include "lipsyncd/core/error.hpp"
#include "sync_renderer.hpp"
#include "test_media.hpp"

namespace lipsyncd::emulator {
namespace {

namespace json = boost::json;
using lipsyncd::test::media;
using lipsyncd::test::media_dir;
using lipsyncd::test::TempDir;

json::array load_pairs() {
  std::ifstream in(media_dir() / "PAIRS.json");
  std::stringstream text;
  text << in.rdbuf();
  return json::parse(text.str()).as_array();
}

struct Pair {
  std::string video;
  std::string audio;
  double video_s = 0;
  double audio_s = 0;
};

// The first accepted pair in PAIRS.json whose audio is longer (or shorter) than its video by
// more than a frame: one pair for each direction of mismatch.
Pair find_pair(bool audio_longer) {
  for (const auto& entry : load_pairs()) {
    const auto& pair = entry.as_object();
    if (pair.at("output_duration_s").is_null()) continue;  // rejected before submission
    Pair candidate{std::string(pair.at("video").as_string()),
                   std::string(pair.at("audio").as_string())};
    candidate.video_s = probe_media(media(candidate.video)).duration_s;
    candidate.audio_s = probe_media(media(candidate.audio)).duration_s;
    const double gap = candidate.audio_s - candidate.video_s;
    if (audio_longer ? gap > 0.1 : gap < -0.1) return candidate;
  }
  ADD_FAILURE() << "PAIRS.json has no pair with the " << (audio_longer ? "audio" : "video")
                << " longer";
  return {};
}

// Probing every pair costs a few ffprobe runs; do it once per direction.
Pair pick_pair(bool audio_longer) {
  static const Pair audio_longer_pair = find_pair(true);
  static const Pair video_longer_pair = find_pair(false);
  return audio_longer ? audio_longer_pair : video_longer_pair;
}

double stream_duration(const std::filesystem::path& file, const char* stream) {
  const auto result =
      run_command({"ffprobe", "-v", "error", "-select_streams", stream, "-show_entries",
                   "stream=duration,codec_name", "-of", "json", file.string()});
  const auto parsed = json::parse(result.output).as_object();
  const auto& streams = parsed.at("streams").as_array();
  if (streams.empty()) return -1;
  return std::stod(std::string(streams.at(0).at("duration").as_string()));
}

// The rule, written out independently of planned_output_duration().
double fal_rule(SyncMode mode, double v, double a) {
  if (mode == SyncMode::cut_off) return v < a ? v : a;
  if (mode == SyncMode::remap) return a;
  return v > a ? v : a;
}

class SyncModeDuration : public ::testing::TestWithParam<std::tuple<SyncMode, bool>> {};

TEST_P(SyncModeDuration, OutputLengthFollowsTheModeWithinOneFrame) {
  const auto [mode, audio_longer] = GetParam();
  const Pair pair = pick_pair(audio_longer);
  ASSERT_FALSE(pair.video.empty());
  TempDir scratch;
  const auto output = scratch / "out.mp4";
  const double expected = fal_rule(mode, pair.video_s, pair.audio_s);
  const double planned =
      render_lipsync_output(media(pair.video), media(pair.audio), mode, output, scratch.path());
  EXPECT_NEAR(planned, expected, 1e-6);

  const auto info = probe_media(output);
  ASSERT_TRUE(info.has_video);
  ASSERT_TRUE(info.has_audio);
  const double frame = 1.0 / info.fps;
  EXPECT_NEAR(info.duration_s, expected, frame)
      << to_string(mode) << " with video " << pair.video_s << " s, audio " << pair.audio_s << " s";
  EXPECT_NEAR(stream_duration(output, "v:0"), expected, frame);
  // The audio is the submitted one: never longer than it, except where the mode pads or repeats it.
  EXPECT_NEAR(stream_duration(output, "a:0"), expected, frame);
}

INSTANTIATE_TEST_SUITE_P(EveryModeBothDirections, SyncModeDuration,
                         ::testing::Combine(::testing::ValuesIn(kAllSyncModes), ::testing::Bool()),
                         [](const auto& param_info) {
                           return std::string(to_string(std::get<0>(param_info.param))) +
                                  (std::get<1>(param_info.param) ? "_audio_longer"
                                                                 : "_video_longer");
                         });

TEST(EmulatorSyncRenderer, OutputIsH264AndAacInMp4) {
  const Pair pair = pick_pair(true);
  TempDir scratch;
  const auto output = scratch / "out.mp4";
  render_lipsync_output(media(pair.video), media(pair.audio), SyncMode::cut_off, output,
                        scratch.path());
  const auto result =
      run_command({"ffprobe", "-v", "error", "-show_entries",
                   "format=format_name:stream=codec_name", "-of", "csv=p=0", output.string()});
  EXPECT_NE(result.output.find("h264"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("aac"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("mp4"), std::string::npos) << result.output;
}

TEST(EmulatorSyncRenderer, OddDimensionsAreMadeEven) {
  TempDir scratch;
  const auto output = scratch / "out.mp4";
  render_lipsync_output(media("odd_dims_721x405.avi"), media("speech_1s.wav"), SyncMode::cut_off,
                        output, scratch.path());
  EXPECT_TRUE(probe_media(output).has_video);
}

TEST(EmulatorSyncRenderer, UndecodableInputsThrowInputNotDecodable) {
  TempDir scratch;
  for (const auto* broken : {"text_as_video.mp4", "zero_bytes.mp4"}) {
    try {
      render_lipsync_output(media(broken), media("speech_1s.wav"), SyncMode::cut_off,
                            scratch / "o.mp4", scratch.path());
      ADD_FAILURE() << broken << " was rendered";
    } catch (const Error& e) {
      EXPECT_EQ(e.reason_code(), "input_not_decodable") << broken;
    }
  }
  try {
    render_lipsync_output(media("speech_5s.wav"), media("speech_1s.wav"), SyncMode::cut_off,
                          scratch / "o.mp4", scratch.path());
    ADD_FAILURE() << "an audio file was accepted as the video";
  } catch (const Error& e) {
    EXPECT_EQ(e.reason_code(), "input_not_decodable");
  }
}

}  // namespace
}  // namespace lipsyncd::emulator
