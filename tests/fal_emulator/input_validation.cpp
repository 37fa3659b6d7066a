#include "input_validation.hpp"

#include <boost/json.hpp>

namespace lipsyncd::emulator {
namespace {

namespace json = boost::json;

json::object problem(json::array loc, std::string_view msg, std::string_view type) {
  json::object entry;
  entry["loc"] = std::move(loc);
  entry["msg"] = msg;
  entry["type"] = type;
  return entry;
}

// Pydantic's AnyUrl accepts any scheme://host; fal's file fields also take data: URIs.
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
  if (value == nullptr || value->is_null()) {
    detail.push_back(
        problem({"body", json::string(field)}, "field required", "value_error.missing"));
    return std::nullopt;
  }
  if (!value->is_string()) {
    detail.push_back(problem({"body", json::string(field)}, "str type expected", "type_error.str"));
    return std::nullopt;
  }
  std::string text(value->as_string());
  if (!looks_like_url(text)) {
    detail.push_back(problem({"body", json::string(field)}, "invalid or missing URL scheme",
                             "value_error.url.scheme"));
    return std::nullopt;
  }
  return text;
}

template <typename Names>
json::object enum_problem(std::string_view field, const Names& names) {
  std::string permitted;
  json::array values;
  for (const auto& name : names) {
    if (!permitted.empty()) permitted += ", ";
    permitted += "'" + std::string(name) + "'";
    values.emplace_back(json::string(std::string_view(name)));
  }
  auto entry = problem({"body", json::string(field)},
                       "value is not a valid enumeration member; permitted: " + permitted,
                       "type_error.enum");
  entry["ctx"] = json::object{{"enum_values", values}};
  return entry;
}

}  // namespace

ValidationOutcome validate_lipsync_input(std::string_view body_text,
                                         std::string_view endpoint_path) {
  ValidationOutcome outcome;
  json::error_code ec;
  const json::value parsed = json::parse(body_text, ec);
  if (ec) {
    outcome.detail.push_back(problem({"body", 0}, "Expecting value", "value_error.jsondecode"));
    return outcome;
  }
  if (!parsed.is_object()) {
    outcome.detail.push_back(problem({"body"}, "value is not a valid dict", "type_error.dict"));
    return outcome;
  }
  const auto& body = parsed.as_object();
  auto& detail = outcome.detail;

  LipsyncInput input;
  const auto video_url = required_url(body, "video_url", detail);
  const auto audio_url = required_url(body, "audio_url", detail);

  input.model = std::string(kKnownModels.front());
  if (const auto* model = body.if_contains("model"); model != nullptr && !model->is_null()) {
    if (!model->is_string()) {
      detail.push_back(problem({"body", "model"}, "str type expected", "type_error.str"));
    } else if (endpoint_path.empty() && !is_known_model(model->as_string())) {
      detail.push_back(enum_problem("model", kKnownModels));
    } else {
      input.model = std::string(model->as_string());
    }
  }

  if (const auto* mode = body.if_contains("sync_mode"); mode != nullptr && !mode->is_null()) {
    const auto parsed_mode =
        mode->is_string() ? parse_sync_mode(mode->as_string()) : std::optional<SyncMode>{};
    if (parsed_mode) {
      input.sync_mode = *parsed_mode;
    } else {
      std::array<std::string_view, kAllSyncModes.size()> names{};
      for (size_t i = 0; i < kAllSyncModes.size(); ++i) names[i] = to_string(kAllSyncModes[i]);
      detail.push_back(enum_problem("sync_mode", names));
    }
  }

  if (detail.empty() && video_url && audio_url) {
    input.video_url = *video_url;
    input.audio_url = *audio_url;
    outcome.input = std::move(input);
  }
  return outcome;
}

}  // namespace lipsyncd::emulator
