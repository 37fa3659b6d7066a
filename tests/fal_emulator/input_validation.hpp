#pragma once
// Checks a sync-lipsync input the way fal's FastAPI apps do (fal-protocol.md §9) and reports
// problems in FastAPI's 422 shape with Pydantic v2 error types (§6.2: `missing`, `enum`,
// `string_type`, `extra_forbidden`, ...), so clients meet fal's errors.
//
// The emulator keeps its own copy of each endpoint's schema, on purpose independent of
// lipsyncd's endpoint catalog: a mistake in the catalog must show up as a 422 here.
//
// Assumption (fal-protocol.md §9, §13: unverified): fields a schema does not list are
// refused with `extra_forbidden`. That is the strict choice; lipsyncd sends only documented
// keys, and this proves it does.

#include <boost/json/array.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lipsyncd/core/sync_mode.hpp"

namespace lipsyncd::emulator {

struct LipsyncInput {
  std::string video_url;
  std::string audio_url;
  std::string model;  // fal's default filled in when absent; empty on v3 (no model field)
  SyncMode sync_mode = SyncMode::cut_off;
};

// One emulated endpoint's input schema: `sub_path` is what follows owner/alias in the
// endpoint id ("" for fal-ai/sync-lipsync, "v2", "v3").
struct LipsyncSchema {
  std::string_view sub_path;
  std::vector<std::string_view> models;  // the `model` enum, default first; empty: no field
};
const std::vector<LipsyncSchema>& lipsync_schemas();
const LipsyncSchema* find_lipsync_schema(std::string_view sub_path);

struct ValidationOutcome {
  std::optional<LipsyncInput> input;  // set when the body is valid
  boost::json::array detail;          // FastAPI `detail` entries when it is not
  bool ok() const { return input.has_value(); }
};

// `endpoint_path` selects the schema (see LipsyncSchema::sub_path); an unknown one accepts
// nothing.
ValidationOutcome validate_lipsync_input(std::string_view body, std::string_view endpoint_path);

}  // namespace lipsyncd::emulator
