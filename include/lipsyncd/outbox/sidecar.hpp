#pragma once
// The `<stem>.lipsync.json` written beside every delivered video: what was asked of fal, what
// came back, what it cost and how long each stage took. Plain data plus its JSON form.

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace lipsyncd::outbox {

// One part of a long-form job: its own fal request, the range of the output it made, its
// share of the estimate and how long fal took.
struct SidecarSegment {
  int index = 0;  // 1-based
  std::string job_id{};
  std::string request_id{};
  double start_s = 0;  // on the delivered video's timeline
  double end_s = 0;
  double estimated_cost_usd = 0;
  std::string cut_reason{};                       // why the segment ends where it does
  std::map<std::string, double> stage_seconds{};  // "upload", "submit", "fal", "download"
};

// Every member has an initializer, so designated initializers may name only what they set.
struct Sidecar {
  std::string job_id{};
  std::string request_id{};
  std::string endpoint{};
  std::string model{};
  std::string sync_mode{};
  std::string sync_mode_reason{};     // why the policy (or the user) chose it
  std::vector<std::string> inputs{};  // original file names
  double video_duration_s = 0;
  double audio_duration_s = 0;
  double output_duration_s = 0;  // measured by probing the delivered file
  // fal's result carries no price: this is lipsyncd's estimate, and the two fields below are
  // what it was computed from (estimated_cost_usd = estimate_minutes x usd_per_minute).
  double estimated_cost_usd = 0;
  double estimate_minutes = 0;  // planned output minutes
  double usd_per_minute = 0;    // the endpoint + model's rate (catalog or [prices])
  std::map<std::string, double> stage_seconds{};  // "prepare", "upload", "queue", "download", ...
  std::optional<std::string> duplicate_of{};      // job whose result was reused, if any
  std::vector<SidecarSegment> segments{};         // a long-form job's parts, in order
  std::string delivered_at{};                     // ISO-8601 UTC
};

std::string to_json(const Sidecar& sidecar);

// "clip.lipsync.mp4" -> "clip.lipsync.json".
std::string sidecar_name_for(const std::string& video_name);

}  // namespace lipsyncd::outbox
