// Every file of ../shared/media/MANIFEST.json gets the verdict and reason code the manifest
// lists (as_video, as_audio), as a video and as an audio, through the same check_pair() the
// daemon runs, with the faces counted as the manifest's has_face says, once with each face
// detector: Haar (the default) and the SSD (its model found through [face] ssd_model, in
// LIPSYNCD_TEST_MODELS, as a user configures it; the manifest's `haar` field is what the
// cascade saw, but the expected verdict is the daemon's, whatever the detector); probe() reports
// the container and stream facts the manifest records (ffprobe's format_name, stream durations from
// a full decode, clockwise rotation).

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
#include "ssd_config.hpp"
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
  std::string role;  // "video" or "audio": the side of the pair the file is offered as
  std::string verdict;
  std::string reason_code;
  std::string has_face;  // the manifest's truth: "true", "false", "partial", "multiple", "tiny"
  std::string detector;  // [face] detector: "haar" or "ssd"
};

// gtest prints a parameter it cannot print as a byte dump in every ctest line: say what it is.
void PrintTo(const ManifestCase& c, std::ostream* out) {
  *out << c.file << " as " << c.role << " with " << c.detector << " -> " << c.verdict
       << (c.reason_code.empty() ? "" : " (" + c.reason_code + ")");
}

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

std::string has_face_of(const json::object& entry) {
  const json::value& value = entry.at("has_face");
  if (value.is_bool()) return value.as_bool() ? "true" : "false";
  return value.is_string() ? std::string(value.as_string()) : std::string();
}

// Every entry is judged in both roles: as_video and as_audio each hold `expected` + `reason`.
std::vector<ManifestCase> manifest_cases(const std::string& detector) {
  std::vector<ManifestCase> cases;
  for (const json::value& value : read_manifest()) {
    const json::object& entry = value.as_object();
    for (const char* role : {"video", "audio"}) {
      const json::object& judged = entry.at(std::string("as_") + role).as_object();
      cases.push_back({text_or_empty(entry, "file"), role, text_or_empty(judged, "expected"),
                       text_or_empty(judged, "reason"), has_face_of(entry), detector});
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
  ASSERT_FALSE(c.verdict.empty()) << "the manifest gives no verdict";
  const Config config = c.detector == "ssd" ? test::ssd_config() : default_config({});
  ASSERT_EQ(config.face.detector, c.detector);
  const auto file = test::media(c.file);
  const PairReport report = c.role == "video" ? check_pair(file, test::media(kGoodAudio), config)
                                              : check_pair(test::media(kGoodVideo), file, config);
  // Exact: accept and accept_with_warning are different verdicts.
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
  // Faces counted as a person counts them: one speaker is one face, two speakers are several.
  if (c.role == "video" && report.face && report.face->samples_with_face > 0) {
    EXPECT_EQ(report.face->detector, c.detector);
    if (c.has_face == "true") {
      EXPECT_EQ(report.face->max_faces, 1) << report.message;
    }
    if (c.has_face == "multiple") {
      EXPECT_GE(report.face->max_faces, 2) << report.message;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Media, ManifestVerdict, testing::ValuesIn(manifest_cases("haar")),
                         case_name);
INSTANTIATE_TEST_SUITE_P(MediaSsd, ManifestVerdict, testing::ValuesIn(manifest_cases("ssd")),
                         case_name);

double number_at(const json::object& object, const char* key) {
  return object.at(key).to_number<double>();
}

// The facts ffprobe and a full decode recorded in the manifest, as our own probe sees them.
TEST(ManifestProbe, ContainerCodecsSizeRotationAndStreamDurationsAgree) {
  int probed = 0;
  for (const json::value& value : read_manifest()) {
    const json::object& entry = value.as_object();
    const std::string file = text_or_empty(entry, "file");
    if (!entry.at("probe_ok").as_bool()) continue;
    SCOPED_TRACE(file);
    const MediaInfo info = probe(test::media(file));
    ++probed;
    EXPECT_EQ(info.container, text_or_empty(entry, "format_name"));
    EXPECT_EQ(info.bytes, entry.at("bytes").to_number<std::uintmax_t>());
    EXPECT_EQ(info.still_image, text_or_empty(entry, "kind") == "image");
    const json::object& codecs = entry.at("codecs").as_object();
    if (codecs.at("video").is_null()) {
      EXPECT_FALSE(info.video);
    } else {
      ASSERT_TRUE(info.video);
      EXPECT_EQ(info.video->codec, codecs.at("video").as_string());
      EXPECT_EQ(info.video->width, entry.at("width").to_number<int>());
      EXPECT_EQ(info.video->height, entry.at("height").to_number<int>());
      // After the pixel aspect ratio and the rotation, as a player shows it.
      EXPECT_EQ(info.video->display_width(), entry.at("display_width").to_number<int>());
      EXPECT_EQ(info.video->display_height(), entry.at("display_height").to_number<int>());
      // Both clockwise: the turn a player applies.
      EXPECT_EQ(info.video->rotation, entry.at("rotation").to_number<int>());
    }
    if (text_or_empty(entry, "kind") == "image") continue;
    // Raw ADTS AAC states no duration: ffprobe guesses from the bit rate, we count packets.
    const double container_tolerance = info.container == "aac" ? 0.3 : 0.01;
    EXPECT_NEAR(info.duration_s, number_at(entry, "duration_s"), container_tolerance);
    if (info.video) {
      EXPECT_EQ(info.video->variable_frame_rate, entry.at("vfr").as_bool());
      if (!entry.at("vfr").as_bool()) {
        EXPECT_NEAR(info.video->fps, number_at(entry, "fps"), 0.01);
      }
      // The stream's own length, as a full decode measures it, within one frame.
      EXPECT_NEAR(info.video->duration_s, number_at(entry, "video_duration_s"),
                  1.0 / info.video->fps);
    }
    if (codecs.at("audio").is_null()) {
      EXPECT_FALSE(info.audio);
    } else {
      ASSERT_TRUE(info.audio);
      const json::object& audio = entry.at("audio").as_object();
      EXPECT_EQ(info.audio->codec, codecs.at("audio").as_string());
      EXPECT_EQ(info.audio->sample_rate, audio.at("sample_rate").to_number<int>());
      EXPECT_EQ(info.audio->channels, audio.at("channels").to_number<int>());
      // Within one compressed audio frame (AAC: 1024 samples, MP3: 1152).
      EXPECT_NEAR(info.audio->duration_s, number_at(entry, "audio_duration_s"),
                  1152.0 / info.audio->sample_rate);
    }
  }
  EXPECT_GE(probed, 75);
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
  EXPECT_EQ(reason_of("truncated_half.mp4"), "not_decodable");  // its index was at the end
  EXPECT_EQ(reason_of("corrupt_header.wav"), "not_decodable");
}

}  // namespace
}  // namespace lipsyncd::media
