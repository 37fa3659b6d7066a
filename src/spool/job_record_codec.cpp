#include "job_record_codec.hpp"

#include <boost/json.hpp>

#include "lipsyncd/core/error.hpp"
#include "time_codec.hpp"

namespace lipsyncd::spool::codec {
namespace json = boost::json;
namespace {

json::object parse_object(const std::string& text) {
  boost::system::error_code ec;
  json::value value = json::parse(text, ec);
  if (ec || !value.is_object()) {
    throw Error("store_corrupt", "a job record in the store is not valid JSON: " + text,
                "restore the state folder from a backup or remove the job's row");
  }
  return std::move(value.as_object());
}

std::string string_at(const json::object& object, std::string_view key) {
  const auto* value = object.if_contains(key);
  return value != nullptr && value->is_string() ? std::string(value->as_string()) : std::string();
}

std::optional<std::string> optional_string_at(const json::object& object, std::string_view key) {
  const auto* value = object.if_contains(key);
  if (value == nullptr || !value->is_string()) return std::nullopt;
  return std::string(value->as_string());
}

double number_at(const json::object& object, std::string_view key) {
  const auto* value = object.if_contains(key);
  if (value == nullptr) return 0;
  if (value->is_double()) return value->as_double();
  if (value->is_int64()) return static_cast<double>(value->as_int64());
  if (value->is_uint64()) return static_cast<double>(value->as_uint64());
  return 0;
}

json::object file_to_json(const SpooledFile& file) {
  return {{"path", file.path.string()}, {"original", file.original_path.string()}};
}

SpooledFile file_from_json(const json::value& value) {
  if (!value.is_object()) return {};
  const auto& object = value.as_object();
  return {string_at(object, "path"), string_at(object, "original")};
}

}  // namespace

std::string encode(const Inputs& inputs) {
  json::array extras;
  for (const auto& extra : inputs.extras) extras.push_back(file_to_json(extra));
  return json::serialize(json::object{{"video", file_to_json(inputs.video)},
                                      {"audio", file_to_json(inputs.audio)},
                                      {"extras", std::move(extras)}});
}

Inputs decode_inputs(const std::string& text) {
  const auto object = parse_object(text);
  Inputs inputs;
  if (const auto* video = object.if_contains("video")) inputs.video = file_from_json(*video);
  if (const auto* audio = object.if_contains("audio")) inputs.audio = file_from_json(*audio);
  if (const auto* extras = object.if_contains("extras"); extras && extras->is_array()) {
    for (const auto& extra : extras->as_array()) inputs.extras.push_back(file_from_json(extra));
  }
  return inputs;
}

std::string encode(const JobOptions& options) {
  json::object object;
  if (options.model) object["model"] = *options.model;
  if (options.sync_mode) object["sync_mode"] = to_string(*options.sync_mode);
  if (options.output_name) object["output"] = *options.output_name;
  return json::serialize(object);
}

JobOptions decode_options(const std::string& text) {
  const auto object = parse_object(text);
  JobOptions options;
  options.model = optional_string_at(object, "model");
  if (const auto mode = optional_string_at(object, "sync_mode")) {
    options.sync_mode = parse_sync_mode(*mode);
  }
  options.output_name = optional_string_at(object, "output");
  return options;
}

namespace {

json::object segment_plan_to_json(const SegmentPlan& segment) {
  return {{"index", segment.index},
          {"start_s", segment.start_s},
          {"end_s", segment.end_s},
          {"cut_reason", segment.cut_reason},
          {"estimated_usd", segment.estimated_usd},
          {"video", segment.video.string()},
          {"audio", segment.audio.string()}};
}

SegmentPlan segment_plan_from_json(const json::value& value) {
  if (!value.is_object()) return {};
  const auto& object = value.as_object();
  return {static_cast<int>(number_at(object, "index")),
          number_at(object, "start_s"),
          number_at(object, "end_s"),
          string_at(object, "cut_reason"),
          number_at(object, "estimated_usd"),
          string_at(object, "video"),
          string_at(object, "audio")};
}

}  // namespace

std::string encode(const JobPlan& plan) {
  json::object object{{"sync_mode", to_string(plan.sync_mode)},
                      {"reason", plan.reason},
                      {"model", plan.model},
                      {"video_s", plan.video_s},
                      {"audio_s", plan.audio_s},
                      {"output_s", plan.output_s},
                      {"usd_per_minute", plan.usd_per_minute},
                      {"estimated_usd", plan.estimated_usd},
                      {"normalized_video", plan.normalized_video.string()},
                      {"normalized_audio", plan.normalized_audio.string()}};
  // Only a long-form plan has the key: other rows stay as they were.
  if (plan.is_long_form()) {
    json::array segments;
    for (const auto& segment : plan.segments) segments.push_back(segment_plan_to_json(segment));
    object["segments"] = std::move(segments);
  }
  return json::serialize(object);
}

JobPlan decode_plan(const std::string& text) {
  const auto object = parse_object(text);
  JobPlan plan;
  plan.sync_mode = parse_sync_mode(string_at(object, "sync_mode")).value_or(SyncMode::cut_off);
  plan.reason = string_at(object, "reason");
  plan.model = string_at(object, "model");
  plan.video_s = number_at(object, "video_s");
  plan.audio_s = number_at(object, "audio_s");
  plan.output_s = number_at(object, "output_s");
  plan.usd_per_minute = number_at(object, "usd_per_minute");
  plan.estimated_usd = number_at(object, "estimated_usd");
  plan.normalized_video = string_at(object, "normalized_video");
  plan.normalized_audio = string_at(object, "normalized_audio");
  if (const auto* segments = object.if_contains("segments"); segments && segments->is_array()) {
    for (const auto& segment : segments->as_array()) {
      plan.segments.push_back(segment_plan_from_json(segment));
    }
  }
  return plan;
}

std::string encode(const JobSegment& segment) {
  return json::serialize(json::object{{"parent_id", segment.parent_id},
                                      {"index", segment.index},
                                      {"count", segment.count},
                                      {"start_s", segment.start_s},
                                      {"end_s", segment.end_s}});
}

JobSegment decode_segment(const std::string& text) {
  const auto object = parse_object(text);
  return {string_at(object, "parent_id"), static_cast<int>(number_at(object, "index")),
          static_cast<int>(number_at(object, "count")), number_at(object, "start_s"),
          number_at(object, "end_s")};
}

std::string encode(const JobUploads& uploads) {
  return json::serialize(
      json::object{{"video_url", uploads.video_url}, {"audio_url", uploads.audio_url}});
}

JobUploads decode_uploads(const std::string& text) {
  const auto object = parse_object(text);
  return {string_at(object, "video_url"), string_at(object, "audio_url")};
}

std::string encode(const RequestUrls& urls) {
  return json::serialize(json::object{
      {"status_url", urls.status}, {"response_url", urls.response}, {"cancel_url", urls.cancel}});
}

RequestUrls decode_request_urls(const std::string& text) {
  const auto object = parse_object(text);
  return {string_at(object, "status_url"), string_at(object, "response_url"),
          string_at(object, "cancel_url")};
}

std::string encode(const JobResult& result) {
  json::object object{{"url", result.url}, {"size_bytes", result.size_bytes}};
  if (result.billed_usd) object["billed_usd"] = *result.billed_usd;
  if (result.duplicate_of) object["duplicate_of"] = *result.duplicate_of;
  return json::serialize(object);
}

JobResult decode_result(const std::string& text) {
  const auto object = parse_object(text);
  JobResult result;
  result.url = string_at(object, "url");
  result.size_bytes = static_cast<std::uint64_t>(number_at(object, "size_bytes"));
  if (object.contains("billed_usd")) result.billed_usd = number_at(object, "billed_usd");
  result.duplicate_of = optional_string_at(object, "duplicate_of");
  return result;
}

std::string encode(const JobError& error) {
  return json::serialize(json::object{{"stage", error.stage},
                                      {"reason_code", error.reason_code},
                                      {"message", error.message},
                                      {"hint", error.hint}});
}

JobError decode_error(const std::string& text) {
  const auto object = parse_object(text);
  return {string_at(object, "stage"), string_at(object, "reason_code"),
          string_at(object, "message"), string_at(object, "hint")};
}

std::string encode(const std::vector<std::filesystem::path>& paths) {
  json::array array;
  for (const auto& path : paths) array.push_back(json::string(path.string()));
  return json::serialize(array);
}

std::vector<std::filesystem::path> decode_paths(const std::string& text) {
  boost::system::error_code ec;
  const json::value value = json::parse(text, ec);
  std::vector<std::filesystem::path> paths;
  if (ec || !value.is_array()) return paths;
  for (const auto& item : value.as_array()) {
    if (item.is_string()) paths.emplace_back(std::string(item.as_string()));
  }
  return paths;
}

std::string encode(const std::map<JobState, TimePoint>& entered_at) {
  json::object object;
  for (const auto& [state, time] : entered_at) object[to_string(state)] = to_millis(time);
  return json::serialize(object);
}

std::map<JobState, TimePoint> decode_entered_at(const std::string& text) {
  const auto object = parse_object(text);
  std::map<JobState, TimePoint> entered_at;
  for (const auto& [key, value] : object) {
    const auto state = parse_job_state(key);
    if (state && value.is_int64()) entered_at[*state] = from_millis(value.as_int64());
  }
  return entered_at;
}

}  // namespace lipsyncd::spool::codec
