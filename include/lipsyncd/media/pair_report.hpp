#pragma once
// Everything known about a video + audio pair before any money is spent: both probes, the
// face statistics, the sync plan, and the verdict with its reason. `lipsyncd check` prints it;
// the daemon can store it beside a job (to_json).

#include <optional>
#include <string>
#include <string_view>

#include "lipsyncd/media/face_check.hpp"
#include "lipsyncd/media/long_form_plan.hpp"
#include "lipsyncd/media/media_info.hpp"
#include "lipsyncd/media/sync_plan.hpp"

namespace lipsyncd::media {

enum class Verdict { accept, accept_with_warning, reject };
std::string_view to_string(Verdict verdict) noexcept;

struct PairReport {
  Verdict verdict = Verdict::reject;
  std::string reason_code;  // "" for a plain accept; the warning's or rejection's code otherwise
  std::string message;      // one sentence a person can act on
  std::string hint;
  std::optional<MediaInfo> video;  // absent when the video could not be probed
  std::optional<MediaInfo> audio;
  bool video_needs_transcode = false;
  bool audio_needs_transcode = false;
  std::optional<FaceReport> face;  // absent when the pair was rejected before the face check
  std::optional<SyncPlan> plan;
  // Present when the output is longer than one request allows and [longform] lets the pair
  // be split: the segments, where and why they are cut, each one's estimate and face check.
  // `face` is then the verdict's segment (the failing or warning one, else the weakest).
  std::optional<LongFormPlan> long_form;
};

// One JSON object: verdict, reason_code, message, hint, video, audio (duration_s, codecs,
// needs_transcode, ...), face (visible_ratio, median_face_height_ratio, max_faces, ...),
// sync_mode, sync_mode_reason, output_duration_s, estimated_cost_usd, long_form (null, or
// request_limit_s, max_segment_s, total_estimated_cost_usd, notes and segments: index, start_s,
// end_s, duration_s, end_cut, cut_reason, starts/ends_on_keyframe, estimated_cost_usd, face,
// face_reason_code). Unknown values are null.
std::string to_json(const PairReport& report);
// A few aligned lines for people (what `lipsyncd check` prints without --json), with one line
// per long-form segment: its range, length, estimate, face, copy or re-encode, and its cut.
std::string to_text(const PairReport& report);

}  // namespace lipsyncd::media
