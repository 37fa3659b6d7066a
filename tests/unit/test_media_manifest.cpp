// Every file of ../shared/media/MANIFEST.json gets the verdict and reason code the manifest
// lists, as a video and as an audio, through the same check_pair() the daemon runs; probe()
// reports the container facts the manifest records.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "lipsyncd/config/config.hpp"
#include "lipsyncd/core/error.hpp"
#include "lipsyncd/media/pair_check.hpp"
#include "test_media.hpp"

namespace lipsyncd::media {
namespace {

namespace json = boost::json;

// A partner that is fine on its own: the verdict then depends on the file under test only.
// The audio is longer than every test video, so the face check sees each whole video.
constexpr const char* kGoodVideo = "talk_h264_aac.mp4";
constexpr const char* kGoodAudio = "real_speech_42s.mp3";

struct ManifestCase {
  std::string file;
  std::string role;  // "video" or "audio"
  std::string verdict;
  std::string reason_code;
};

std::string text_or_empty(const json::object& entry, const char* key) {
  const json::value* value = entry.if_contains(key);
  return value != nullptr && value->is_string() ? std::string(value->as_string()) : std::string();
}

json::array read_manifest() {
  std::ifstream in(test::media_dir() / "MANIFEST.json");
  std::stringstream text;
  text << in.rdbuf();
  return json::parse(text.str()).as_array();
}

std::vector<ManifestCase> manifest_cases() {
  std::vector<ManifestCase> cases;
  for (const json::value& value : read_manifest()) {
    const json::object& entry = value.as_object();
    const std::string file = text_or_empty(entry, "file");
    const std::string any_reason = text_or_empty(entry, "reason_code");
    if (!text_or_empty(entry, "verdict_as_input").empty()) {
      // Broken files are broken in either role.
      for (const char* role : {"video", "audio"}) {
        cases.push_back({file, role, text_or_empty(entry, "verdict_as_input"), any_reason});
      }
      continue;
    }
    if (const auto verdict = text_or_empty(entry, "verdict_as_video"); !verdict.empty()) {
      std::string reason = text_or_empty(entry, "reason_code_as_video");
      if (reason.empty() && verdict != "accept") reason = any_reason;
      cases.push_back({file, "video", verdict, reason});
    }
    if (const auto verdict = text_or_empty(entry, "verdict_as_audio"); !verdict.empty()) {
      std::string reason = text_or_empty(entry, "reason_code_as_audio");
      if (reason.empty() && verdict != "accept") reason = any_reason;
      cases.push_back({file, "audio", verdict, reason});
    }
  }
  return cases;
}

std::string case_name(const testing::TestParamInfo<ManifestCase>& info) {
  std::string name = info.param.role + "_" + info.param.file;
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

class ManifestVerdict : public testing::TestWithParam<ManifestCase> {};

TEST_P(ManifestVerdict, MatchesTheManifest) {
  const ManifestCase& c = GetParam();
  const Config config = default_config({});
  const auto file = test::media(c.file);
  const PairReport report = c.role == "video" ? check_pair(file, test::media(kGoodAudio), config)
                                              : check_pair(test::media(kGoodVideo), file, config);
  EXPECT_EQ(to_string(report.verdict), c.verdict) << report.message;
  EXPECT_EQ(report.reason_code, c.reason_code) << report.message;
  // Every verdict but a plain accept explains itself in a sentence.
  if (report.verdict != Verdict::accept) {
    EXPECT_GT(report.message.size(), 20u);
  }
  if (report.verdict != Verdict::reject) {
    ASSERT_TRUE(report.plan);
    ASSERT_TRUE(report.face);
    EXPECT_GT(report.plan->output_duration_s, 0);
  }
}

INSTANTIATE_TEST_SUITE_P(Media, ManifestVerdict, testing::ValuesIn(manifest_cases()), case_name);

// The facts ffprobe recorded in the manifest, as our own probe sees them.
TEST(ManifestProbe, ContainerCodecsSizeAndDurationAgreeWithFfprobe) {
  int probed = 0;
  for (const json::value& value : read_manifest()) {
    const json::object& entry = value.as_object();
    if (entry.at("container").is_null() || text_or_empty(entry, "kind") == "image") continue;
    SCOPED_TRACE(text_or_empty(entry, "file"));
    const MediaInfo info = probe(test::media(text_or_empty(entry, "file")));
    ++probed;
    EXPECT_EQ(info.container, text_or_empty(entry, "container"));
    EXPECT_EQ(info.bytes, entry.at("bytes").to_number<std::uintmax_t>());
    // Raw ADTS AAC states no duration: ffprobe guesses from the bit rate, we count packets.
    const double tolerance = info.container == "aac" ? 0.3 : 0.01;
    EXPECT_NEAR(info.duration_s, entry.at("duration_s").to_number<double>(), tolerance);
    if (entry.at("video_codec").is_null()) {
      EXPECT_FALSE(info.video);
    } else {
      ASSERT_TRUE(info.video);
      EXPECT_EQ(info.video->codec, text_or_empty(entry, "video_codec"));
      EXPECT_EQ(info.video->width, entry.at("width").to_number<int>());
      EXPECT_EQ(info.video->height, entry.at("height").to_number<int>());
      // MANIFEST's rotation is ffprobe's counter-clockwise display-matrix angle; ours is the
      // clockwise turn a player applies, so 90 there is 270 here.
      const int counter_clockwise = entry.at("rotation").to_number<int>();
      EXPECT_EQ(info.video->rotation, (360 - counter_clockwise) % 360);
      if (text_or_empty(entry, "file") != "vfr.mp4") {
        EXPECT_NEAR(info.video->fps, entry.at("fps").to_number<double>(), 0.01);
      }
      EXPECT_EQ(info.video->variable_frame_rate, text_or_empty(entry, "file") == "vfr.mp4");
    }
    if (entry.at("audio_codec").is_null()) {
      EXPECT_FALSE(info.audio);
    } else {
      ASSERT_TRUE(info.audio);
      EXPECT_EQ(info.audio->codec, text_or_empty(entry, "audio_codec"));
      EXPECT_EQ(info.audio->sample_rate, entry.at("sample_rate").to_number<int>());
      EXPECT_EQ(info.audio->channels, entry.at("channels").to_number<int>());
    }
  }
  EXPECT_GT(probed, 25);
}

TEST(ManifestProbe, SilenceIsMeasuredOverTheWholeClip) {
  const MediaInfo silent = probe(test::media("silent_5s.wav"));
  EXPECT_TRUE(std::isinf(measure_loudness(silent).peak_dbfs));
  const Loudness speech = measure_loudness(probe(test::media("real_speech_16k.wav")));
  EXPECT_GT(speech.peak_dbfs, -10);
  EXPECT_LT(speech.rms_dbfs, speech.peak_dbfs);
  EXPECT_GT(speech.rms_dbfs, -40);
}

TEST(ManifestProbe, StillImagesAreFlaggedAsSuch) {
  EXPECT_TRUE(probe(test::media("face_photo_1.jpg")).still_image);
  EXPECT_TRUE(probe(test::media("face_single.png")).still_image);
  EXPECT_FALSE(probe(test::media("talk_h264_aac.mp4")).still_image);
}

TEST(ManifestProbe, BrokenFilesThrowSpecificReasons) {
  const auto reason_of = [](const char* file) {
    try {
      probe(test::media(file));
    } catch (const Error& error) {
      return error.reason_code();
    }
    return std::string("no error");
  };
  EXPECT_EQ(reason_of("zero_bytes.mp4"), "empty_file");
  EXPECT_EQ(reason_of("text_as_video.mp4"), "not_media");
  EXPECT_EQ(reason_of("truncated_half.mp4"), "not_decodable");
  EXPECT_EQ(reason_of("corrupt_header.wav"), "not_decodable");
}

}  // namespace
}  // namespace lipsyncd::media
