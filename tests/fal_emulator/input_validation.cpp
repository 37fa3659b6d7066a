#include "input_validation.hpp"

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <cctype>

namespace lipsyncd::emulator {
namespace {

namespace json = boost::json;

// A Pydantic v2 error entry as FastAPI returns it in `detail`.
json::object problem(json::array loc, std::string_view type, std::string_view msg,
                     json::value input) {
  json::object entry;
  entry["type"] = type;
  entry["loc"] = std::move(loc);
  entry["msg"] = msg;
  entry["input"] = std::move(input);
  return entry;
}

// Pydantic's URL parsing accepts any scheme://host; fal's file fields also take data: URIs.
bool looks_like_url(std::string_view text) {
  if (text.rfind("data:", 0) == 0) return text.find(',') != std::string_view::npos;
  const auto scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos || scheme_end == 0) return false;
  for (char c : text.substr(0, scheme_end)) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') {
      return false;
    }
  }
  return text.size() > scheme_end + 3;
}

std::optional<std::string> required_url(const json::object& body, std::string_view field,
                                        json::array& detail) {
  const auto* value = body.if_contains(field);
  if (value == nullptr) {
    detail.push_back(problem({"body", json::string(field)}, "missing", "Field required", body));
    return std::nullopt;
  }
  if (!value->is_string()) {
    detail.push_back(problem({"body", json::string(field)}, "string_type",
                             "Input should be a valid string", *value));
    return std::nullopt;
  }
  std::string text(value->as_string());
  if (!looks_like_url(text)) {
    auto entry = problem({"body", json::string(field)}, "url_parsing",
                         "Input should be a valid URL, relative URL without a base", *value);
    entry["ctx"] = json::object{{"error", "relative URL without a base"}};
    detail.push_back(std::move(entry));
    return std::nullopt;
  }
  return text;
}

// Pydantic v2's wording: "'a', 'b' or 'c'".
template <typename Names>
std::string expected_values(const Names& names) {
  std::string text;
  const auto count = std::size(names);
  std::size_t index = 0;
  for (const auto& name : names) {
    if (index > 0) text += index + 1 == count ? " or " : ", ";
    text += "'" + std::string(name) + "'";
    ++index;
  }
  return text;
}

template <typename Names>
json::object enum_problem(std::string_view field, const Names& names, const json::value& input) {
  const std::string expected = expected_values(names);
  auto entry = problem({"body", json::string(field)}, "enum", "Input should be " + expected, input);
  entry["ctx"] = json::object{{"expected", expected}};
  return entry;
}

void check_model(const json::object& body, const LipsyncSchema& schema, LipsyncInput& input,
                 json::array& detail) {
  if (!schema.models.empty()) input.model = std::string(schema.models.front());
  const auto* model = body.if_contains("model");
  if (model == nullptr || (model->is_null() && !schema.models.empty())) return;
  if (schema.models.empty()) return;  // reported with the other unknown fields
  const bool known =
      model->is_string() && std::find(schema.models.begin(), schema.models.end(),
                                      std::string_view(model->as_string())) != schema.models.end();
  if (!known) {
    detail.push_back(enum_problem("model", schema.models, *model));
  } else {
    input.model = std::string(model->as_string());
  }
}

void check_sync_mode(const json::object& body, LipsyncInput& input, json::array& detail) {
  const auto* mode = body.if_contains("sync_mode");
  if (mode == nullptr || mode->is_null()) return;
  const auto parsed_mode =
      mode->is_string() ? parse_sync_mode(mode->as_string()) : std::optional<SyncMode>{};
  if (parsed_mode) {
    input.sync_mode = *parsed_mode;
    return;
  }
  std::array<std::string_view, kAllSyncModes.size()> names{};
  for (size_t i = 0; i < kAllSyncModes.size(); ++i) names[i] = to_string(kAllSyncModes[i]);
  detail.push_back(enum_problem("sync_mode", names, *mode));
}

void check_unknown_fields(const json::object& body, const LipsyncSchema& schema,
                          json::array& detail) {
  for (const auto& [key, value] : body) {
    const bool listed = key == "video_url" || key == "audio_url" || key == "sync_mode" ||
                        (key == "model" && !schema.models.empty());
    if (!listed) {
      detail.push_back(problem({"body", json::string(key)}, "extra_forbidden",
                               "Extra inputs are not permitted", value));
    }
  }
}

}  // namespace

const std::vector<LipsyncSchema>& lipsync_schemas() {
  // fal-protocol.md §9.1, §9.2 and the v3 note: v3 (sync-3) takes no model.
  static const std::vector<LipsyncSchema> kSchemas = {
      {"", {"lipsync-1.9.0-beta", "lipsync-1.8.0", "lipsync-1.7.1"}},
      {"v2", {"lipsync-2", "lipsync-2-pro"}},
      {"v3", {}},
  };
  return kSchemas;
}

const LipsyncSchema* find_lipsync_schema(std::string_view sub_path) {
  for (const auto& schema : lipsync_schemas()) {
    if (schema.sub_path == sub_path) return &schema;
  }
  return nullptr;
}

ValidationOutcome validate_lipsync_input(std::string_view body_text,
                                         std::string_view endpoint_path) {
  ValidationOutcome outcome;
  const LipsyncSchema* schema = find_lipsync_schema(endpoint_path);
  if (schema == nullptr) {
    outcome.detail.push_back(problem({"path"}, "value_error",
                                     "Unknown endpoint " + std::string(endpoint_path), nullptr));
    return outcome;
  }
  json::error_code ec;
  const json::value parsed = json::parse(body_text, ec);
  if (ec) {
    auto entry = problem({"body", 0}, "json_invalid", "JSON decode error", json::object{});
    entry["ctx"] = json::object{{"error", ec.message()}};
    outcome.detail.push_back(std::move(entry));
    return outcome;
  }
  if (!parsed.is_object()) {
    outcome.detail.push_back(
        problem({"body"}, "model_attributes_type",
                "Input should be a valid dictionary or object to extract fields from", parsed));
    return outcome;
  }
  const auto& body = parsed.as_object();
  auto& detail = outcome.detail;

  LipsyncInput input;
  const auto video_url = required_url(body, "video_url", detail);
  const auto audio_url = required_url(body, "audio_url", detail);
  check_model(body, *schema, input, detail);
  check_sync_mode(body, input, detail);
  check_unknown_fields(body, *schema, detail);

  if (detail.empty() && video_url && audio_url) {
    input.video_url = *video_url;
    input.audio_url = *audio_url;
    outcome.input = std::move(input);
  }
  return outcome;
}

}  // namespace lipsyncd::emulator
