#pragma once
// Checks a fal-ai/sync-lipsync input the way fal's FastAPI app does and reports problems in
// FastAPI's 422 shape (`detail` entries with `loc`, `msg`, `type`), so clients meet fal's errors.

#include <boost/json/array.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "lipsyncd/core/sync_mode.hpp"

namespace lipsyncd::emulator {

struct LipsyncInput {
  std::string video_url;
  std::string audio_url;
  std::string model;  // fal's default filled in when absent
  SyncMode sync_mode = SyncMode::cut_off;
};

struct ValidationOutcome {
  std::optional<LipsyncInput> input;  // set when the body is valid
  boost::json::array detail;          // FastAPI `detail` entries when it is not
  bool ok() const { return input.has_value(); }
};

// `endpoint_path` is what follows owner/alias in the submitted endpoint id: "" for
// fal-ai/sync-lipsync, "v2" for fal-ai/sync-lipsync/v2, whose model names are not checked
// (they differ from v1's and are unverified; the value is passed through).
ValidationOutcome validate_lipsync_input(std::string_view body, std::string_view endpoint_path);

}  // namespace lipsyncd::emulator
