// The emulator must reject what fal's sync-lipsync app rejects, in FastAPI's 422 shape, and
// accept what it accepts (with fal's defaults), or client tests would prove nothing.

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "input_validation.hpp"

namespace lipsyncd::emulator {
namespace {

namespace json = boost::json;

const std::string kVideo = "http://127.0.0.1:1/files/a/v.mp4";
const std::string kAudio = "http://127.0.0.1:1/files/b/a.wav";

std::string body(const json::object& object) {
  return json::serialize(object);
}

// The `detail` entry whose loc ends with `field`.
const json::object* entry_for(const ValidationOutcome& outcome, std::string_view field) {
  for (const auto& entry : outcome.detail) {
    const auto& loc = entry.as_object().at("loc").as_array();
    if (!loc.empty() && loc.back().is_string() && loc.back().as_string() == field) {
      return &entry.as_object();
    }
  }
  return nullptr;
}

TEST(EmulatorInputValidation, AcceptsMinimalInputWithFalDefaults) {
  const auto outcome =
      validate_lipsync_input(body({{"video_url", kVideo}, {"audio_url", kAudio}}), "");
  ASSERT_TRUE(outcome.ok()) << json::serialize(outcome.detail);
  EXPECT_EQ(outcome.input->video_url, kVideo);
  EXPECT_EQ(outcome.input->audio_url, kAudio);
  EXPECT_EQ(outcome.input->model, "lipsync-1.9.0-beta");
  EXPECT_EQ(outcome.input->sync_mode, SyncMode::cut_off);
  EXPECT_TRUE(outcome.detail.empty());
}

TEST(EmulatorInputValidation, AcceptsEveryModelAndSyncMode) {
  for (const auto model : kKnownModels) {
    for (const auto mode : kAllSyncModes) {
      const auto outcome = validate_lipsync_input(body({{"video_url", kVideo},
                                                        {"audio_url", kAudio},
                                                        {"model", model},
                                                        {"sync_mode", to_string(mode)}}),
                                                  "");
      ASSERT_TRUE(outcome.ok()) << model << " " << to_string(mode);
      EXPECT_EQ(outcome.input->model, model);
      EXPECT_EQ(outcome.input->sync_mode, mode);
    }
  }
}

TEST(EmulatorInputValidation, MissingFieldsAreEachReportedAsFieldRequired) {
  const auto outcome = validate_lipsync_input("{}", "");
  ASSERT_FALSE(outcome.ok());
  ASSERT_EQ(outcome.detail.size(), 2U);
  for (const auto* field : {"video_url", "audio_url"}) {
    const auto* entry = entry_for(outcome, field);
    ASSERT_NE(entry, nullptr) << field;
    EXPECT_EQ(entry->at("loc"), (json::array{"body", field}));
    EXPECT_EQ(entry->at("msg"), "field required");
    EXPECT_EQ(entry->at("type"), "value_error.missing");
  }
}

TEST(EmulatorInputValidation, RejectsNonUrlsAndNonStrings) {
  const auto outcome =
      validate_lipsync_input(body({{"video_url", "clip.mp4"}, {"audio_url", 42}}), "");
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(entry_for(outcome, "video_url")->at("type"), "value_error.url.scheme");
  EXPECT_EQ(entry_for(outcome, "audio_url")->at("type"), "type_error.str");
}

TEST(EmulatorInputValidation, UnknownEnumValuesListWhatIsPermitted) {
  const auto outcome = validate_lipsync_input(body({{"video_url", kVideo},
                                                    {"audio_url", kAudio},
                                                    {"model", "lipsync-2.0"},
                                                    {"sync_mode", "stretch"}}),
                                              "");
  ASSERT_FALSE(outcome.ok());
  const auto* model = entry_for(outcome, "model");
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(model->at("type"), "type_error.enum");
  EXPECT_NE(std::string(model->at("msg").as_string()).find("'lipsync-1.8.0'"), std::string::npos);
  const auto* mode = entry_for(outcome, "sync_mode");
  ASSERT_NE(mode, nullptr);
  EXPECT_EQ(mode->at("ctx").at("enum_values").as_array().size(), 5U);
}

TEST(EmulatorInputValidation, V2PassesModelThroughButStillChecksSyncMode) {
  const auto accepted = validate_lipsync_input(
      body({{"video_url", kVideo}, {"audio_url", kAudio}, {"model", "lipsync-2"}}), "v2");
  ASSERT_TRUE(accepted.ok());
  EXPECT_EQ(accepted.input->model, "lipsync-2");
  const auto rejected = validate_lipsync_input(
      body({{"video_url", kVideo}, {"audio_url", kAudio}, {"sync_mode", "stretch"}}), "v2");
  EXPECT_FALSE(rejected.ok());
}

TEST(EmulatorInputValidation, BodiesThatAreNotJsonObjects) {
  const auto garbage = validate_lipsync_input("{not json", "");
  ASSERT_FALSE(garbage.ok());
  EXPECT_EQ(garbage.detail.at(0).at("type"), "value_error.jsondecode");
  const auto list = validate_lipsync_input("[1, 2]", "");
  ASSERT_FALSE(list.ok());
  EXPECT_EQ(list.detail.at(0).at("type"), "type_error.dict");
}

TEST(EmulatorInputValidation, DataUrisAreUrls) {
  const auto outcome = validate_lipsync_input(
      body({{"video_url", "data:video/mp4;base64,AAAA"}, {"audio_url", kAudio}}), "");
  EXPECT_TRUE(outcome.ok());
}

}  // namespace
}  // namespace lipsyncd::emulator
