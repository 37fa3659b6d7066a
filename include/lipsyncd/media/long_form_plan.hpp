#pragma once
// The long-form planner: where to cut a pair whose output is longer than one fal request
// allows. Cuts sit in speech pauses as close as possible to evenly sized segments, on a video
// keyframe when one is inside the pause (that boundary needs no re-encode), else in the
// pause's middle on a frame boundary; with no pause in reach, at the quietest point (said so).
// Every time here is on the OUTPUT timeline [0, output_s): the sync mode has already made the
// video and the audio cover it (LONGFORM_SPLIT.md). plan_long_form() and
// source_span_of() are pure functions (no I/O); thread-safe. plan_long_form_pair() measures a
// real pair and plans it.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lipsyncd/config/config.hpp"
#include "lipsyncd/core/sync_mode.hpp"
#include "lipsyncd/media/face_check.hpp"
#include "lipsyncd/media/media_info.hpp"
#include "lipsyncd/media/speech_pauses.hpp"
#include "lipsyncd/media/sync_plan.hpp"

namespace lipsyncd::media {

enum class CutKind { keyframe_in_pause, pause, no_pause };
// "keyframe_in_pause", "pause", "no_pause".
std::string_view to_string(CutKind kind) noexcept;

struct PlannedSegment {
  int index = 0;  // 1-based
  TimeSpan span;  // on the output timeline
  // How the cut ending this segment was chosen (the last segment ends at the end of the
  // output: CutKind::pause, cut_reason "end of the output").
  CutKind end_cut = CutKind::pause;
  std::string cut_reason;  // "pause of 0.62 s at 9:01.3, on a keyframe", "no pause ...: quietest"
  // Whether the boundary lies on a keyframe of the video being cut (the start of the output
  // counts when the video's first keyframe is there; its end always counts): a segment with
  // both can be cut by stream copy, otherwise it is cut precisely with a re-encode.
  bool starts_on_keyframe = true;
  bool ends_on_keyframe = true;
  double estimated_usd = 0;
  std::optional<FaceReport> face;  // the segment's own face check (check_pair fills it)
};

struct LongFormPlan {
  std::vector<PlannedSegment> segments;
  double request_limit_s = 0;  // the most video one request may carry
  double max_segment_s = 0;    // [longform] max_segment_s
  double total_estimated_usd = 0;
  std::vector<std::string> notes;  // how the pauses were found, best-effort cuts, re-encodes
};

struct LongFormInputs {
  double output_s = 0;
  double max_segment_s = 540;
  double request_limit_s = 600;
  // Pauses of the audio on the output timeline (find_pauses() of the fitted envelope).
  std::vector<Pause> pauses;
  // Keyframe times of the video that will be cut, on the output timeline, ascending. Empty:
  // the video is re-encoded anyway (extended for loop/bounce, or transcoded while
  // normalizing), so no boundary is treated as a keyframe.
  std::vector<double> keyframes;
  double frame_s = 0.04;  // one video frame: cuts fall on frame boundaries
  double usd_per_minute = 0;
  double min_pause_s = 0.3;  // for the messages only
};

// N = ceil(output_s / max_segment_s) segments (one when output_s <= max_segment_s). Cut k
// aims at k * output_s / N and is chosen among the places that keep every segment, this one
// and those after it, within max_segment_s: the pause nearest the aim, else the quietest
// window of `envelope` (a best-effort cut, also listed in notes).
LongFormPlan plan_long_form(const LongFormInputs& inputs, const AudioEnvelope& envelope);

// The part of the source video (of `video_s` seconds) that the output span shows under
// `mode`, for that segment's face check. cut_off / silence / remap: the same times, capped at
// the video's end; past its end (silence holding the last frame) the video's last second.
// loop: the played part modulo the clip; a span that wraps at the clip's end is represented by
// its longer piece. bounce: the one interval the forward-and-back motion passes over. A span
// that plays the whole clip gives {0, video_s}.
TimeSpan source_span_of(SyncMode mode, double video_s, TimeSpan output_span);

// The plan of a real pair, whose sync plan `sync` outputs more than one request allows: decodes
// the audio once into its envelope (fitted to the output timeline, silence past its end),
// finds its pauses with [longform]'s settings, reads the video's keyframes when its segments
// can be stream-copied (cut_off, or silence with the video covering the output, and no
// transcode while normalizing), and plans with the configured rate. Fills `loudness` (the
// audio's, as measure_loudness() gives it) when given. I/O; throws Error like
// measure_envelope() and video_keyframes().
LongFormPlan plan_long_form_pair(const MediaInfo& video, const MediaInfo& audio,
                                 const SyncPlan& sync, const Config& config,
                                 bool video_needs_transcode, Loudness* loudness = nullptr);

// "9:01.3", "1:02:03.4": a time on a timeline for people.
std::string clock_text(double seconds);

}  // namespace lipsyncd::media
