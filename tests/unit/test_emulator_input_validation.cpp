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
  for (const auto model : find_lipsync_schema("")->models) {
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
    EXPECT_EQ(entry->at("msg"), "Field required");
    EXPECT_EQ(entry->at("type"), "missing");  // Pydantic v2, not value_error.missing
  }
}

TEST(EmulatorInputValidation, RejectsNonUrlsAndNonStrings) {
  const auto outcome =
      validate_lipsync_input(body({{"video_url", "clip.mp4"}, {"audio_url", 42}}), "");
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(entry_for(outcome, "video_url")->at("type"), "url_parsing");
  EXPECT_EQ(entry_for(outcome, "audio_url")->at("type"), "string_type");
  EXPECT_EQ(entry_for(outcome, "audio_url")->at("input").as_int64(), 42);
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
  EXPECT_EQ(model->at("type"), "enum");
  EXPECT_EQ(model->at("msg"),
            "Input should be 'lipsync-1.9.0-beta', 'lipsync-1.8.0' or 'lipsync-1.7.1'");
  EXPECT_EQ(model->at("input"), "lipsync-2.0");
  const auto* mode = entry_for(outcome, "sync_mode");
  ASSERT_NE(mode, nullptr);
  EXPECT_EQ(mode->at("ctx").at("expected"), "'cut_off', 'loop', 'bounce', 'silence' or 'remap'");
}

TEST(EmulatorInputValidation, V2KnowsOnlyLipsync2AndPro) {
  for (const char* model : {"lipsync-2", "lipsync-2-pro"}) {
    const auto accepted = validate_lipsync_input(
        body({{"video_url", kVideo}, {"audio_url", kAudio}, {"model", model}}), "v2");
    ASSERT_TRUE(accepted.ok()) << model;
    EXPECT_EQ(accepted.input->model, model);
  }
  const auto defaulted =
      validate_lipsync_input(body({{"video_url", kVideo}, {"audio_url", kAudio}}), "v2");
  ASSERT_TRUE(defaulted.ok());
  EXPECT_EQ(defaulted.input->model, "lipsync-2");
  const auto v1_model = validate_lipsync_input(
      body({{"video_url", kVideo}, {"audio_url", kAudio}, {"model", "lipsync-1.9.0-beta"}}), "v2");
  ASSERT_FALSE(v1_model.ok());
  const auto* entry = entry_for(v1_model, "model");
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->at("type"), "enum");
  EXPECT_EQ(entry->at("msg"), "Input should be 'lipsync-2' or 'lipsync-2-pro'");
  const auto rejected = validate_lipsync_input(
      body({{"video_url", kVideo}, {"audio_url", kAudio}, {"sync_mode", "stretch"}}), "v2");
  EXPECT_FALSE(rejected.ok());
}

TEST(EmulatorInputValidation, V3HasNoModelField) {
  const auto accepted = validate_lipsync_input(
      body({{"video_url", kVideo}, {"audio_url", kAudio}, {"sync_mode", "loop"}}), "v3");
  ASSERT_TRUE(accepted.ok()) << json::serialize(accepted.detail);
  EXPECT_EQ(accepted.input->model, "");
  const auto with_model = validate_lipsync_input(
      body({{"video_url", kVideo}, {"audio_url", kAudio}, {"model", "lipsync-2"}}), "v3");
  ASSERT_FALSE(with_model.ok());
  EXPECT_EQ(entry_for(with_model, "model")->at("type"), "extra_forbidden");
}

TEST(EmulatorInputValidation, UnknownFieldsAreRefusedAsExtraForbidden) {
  const auto outcome = validate_lipsync_input(
      body({{"video_url", kVideo}, {"audio_url", kAudio}, {"temperature", 0.5}}), "v2");
  ASSERT_FALSE(outcome.ok());
  const auto* entry = entry_for(outcome, "temperature");
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->at("type"), "extra_forbidden");
  EXPECT_EQ(entry->at("msg"), "Extra inputs are not permitted");
}

TEST(EmulatorInputValidation, BodiesThatAreNotJsonObjects) {
  const auto garbage = validate_lipsync_input("{not json", "");
  ASSERT_FALSE(garbage.ok());
  EXPECT_EQ(garbage.detail.at(0).at("type"), "json_invalid");
  const auto list = validate_lipsync_input("[1, 2]", "");
  ASSERT_FALSE(list.ok());
  EXPECT_EQ(list.detail.at(0).at("type"), "model_attributes_type");
}

TEST(EmulatorInputValidation, DataUrisAreUrls) {
  const auto outcome = validate_lipsync_input(
      body({{"video_url", "data:video/mp4;base64,AAAA"}, {"audio_url", kAudio}}), "");
  EXPECT_TRUE(outcome.ok());
}

}  // namespace
}  // namespace lipsyncd::emulator
