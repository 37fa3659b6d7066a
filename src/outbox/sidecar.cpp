#include "lipsyncd/outbox/sidecar.hpp"

#include <boost/json.hpp>

#include "lipsyncd/core/json_text.hpp"
#include "lipsyncd/core/number_format.hpp"

namespace lipsyncd::outbox {

namespace {

boost::json::object stages_json(const std::map<std::string, double>& stage_seconds) {
  boost::json::object stages;
  for (const auto& [stage, seconds] : stage_seconds) {
    stages[stage] = json_decimal(seconds, kSecondsDecimals);
  }
  return stages;
}

boost::json::array segments_json(const std::vector<SidecarSegment>& segments) {
  boost::json::array list;
  for (const auto& segment : segments) {
    list.push_back(boost::json::object{
        {"index", segment.index},
        {"job_id", segment.job_id},
        {"request_id", segment.request_id},
        {"start_s", json_decimal(segment.start_s, kSecondsDecimals)},
        {"end_s", json_decimal(segment.end_s, kSecondsDecimals)},
        {"estimated_cost_usd", json_decimal(segment.estimated_cost_usd, kUsdDecimals)},
        {"cut_reason", segment.cut_reason},
        {"stage_seconds", stages_json(segment.stage_seconds)},
    });
  }
  return list;
}

}  // namespace

std::string to_json(const Sidecar& s) {
  auto stages = stages_json(s.stage_seconds);
  boost::json::array inputs;
  for (const auto& name : s.inputs) inputs.emplace_back(name);
  boost::json::object root{
      {"job_id", s.job_id},
      {"request_id", s.request_id},
      {"endpoint", s.endpoint},
      {"model", s.model},
      {"sync_mode", s.sync_mode},
      {"sync_mode_reason", s.sync_mode_reason},
      {"inputs", std::move(inputs)},
      {"video_duration_s", json_decimal(s.video_duration_s, kSecondsDecimals)},
      {"audio_duration_s", json_decimal(s.audio_duration_s, kSecondsDecimals)},
      {"output_duration_s", json_decimal(s.output_duration_s, kSecondsDecimals)},
      {"estimated_cost_usd", json_decimal(s.estimated_cost_usd, kUsdDecimals)},
      {"estimate_minutes", json_decimal(s.estimate_minutes, kMinutesDecimals)},
      {"usd_per_minute", json_decimal(s.usd_per_minute, kUsdDecimals)},
      {"stage_seconds", std::move(stages)},
      {"delivered_at", s.delivered_at},
  };
  if (s.duplicate_of) root["duplicate_of"] = *s.duplicate_of;
  if (!s.segments.empty()) root["segments"] = segments_json(s.segments);
  return json_text(root) + "\n";
}

std::string sidecar_name_for(const std::string& video_name) {
  const auto dot = video_name.rfind('.');
  if (dot == std::string::npos || dot == 0) return video_name + ".json";
  return video_name.substr(0, dot) + ".json";
}

}  // namespace lipsyncd::outbox
