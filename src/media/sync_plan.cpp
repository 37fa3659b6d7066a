#include "lipsyncd/media/sync_plan.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace lipsyncd::media {
namespace {

std::string seconds_text(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f s", seconds);
  return text;
}

// What fal renders for a mode, and which part of each input it reads. Spans start at 0: every
// mode plays both inputs from their beginning.
void fill_durations(SyncPlan& plan, double video_s, double audio_s) {
  const double shorter = std::min(video_s, audio_s);
  const double longer = std::max(video_s, audio_s);
  switch (plan.mode) {
    case SyncMode::cut_off:
      // fal cuts the longer input to the shorter one: uploading more is wasted.
      plan.output_duration_s = shorter;
      plan.video_span = {0, shorter};
      plan.audio_span = {0, shorter};
      break;
    case SyncMode::loop:
    case SyncMode::bounce:
    case SyncMode::silence:
      plan.output_duration_s = longer;
      plan.video_span = {0, video_s};
      plan.audio_span = {0, audio_s};
      break;
    case SyncMode::remap:
      // The video's timing is remapped onto the audio: the audio sets the length.
      plan.output_duration_s = audio_s;
      plan.video_span = {0, video_s};
      plan.audio_span = {0, audio_s};
      break;
  }
}

std::string how_video_fills(SyncMode mode) {
  switch (mode) {
    case SyncMode::bounce:
      return "the video plays forward and back to fill it";
    case SyncMode::loop:
      return "the video loops to fill it";
    case SyncMode::silence:
      return "the video holds its last frame to fill it";
    default:
      return "fal fits the video to it";
  }
}

}  // namespace

SyncPlan plan_sync(const MediaInfo& video, const MediaInfo& audio, const PolicyConfig& policy,
                   std::optional<SyncMode> requested) {
  // The streams that will be uploaded set the lengths, not the containers: an MP4 whose audio
  // runs on after the picture still only has that much picture.
  const double v = video_seconds(video);
  const double a = audio_seconds(audio);
  const double tolerance = std::max(policy.tolerance_s, policy.tolerance_ratio * v);
  SyncPlan plan;
  if (requested) {
    plan.mode = *requested;
    plan.reason = "requested for this job";
  } else if (policy.forced) {
    plan.mode = *policy.forced;
    plan.reason = "forced by [policy] forced in the configuration";
  } else if (std::fabs(a - v) <= tolerance) {
    plan.mode = SyncMode::cut_off;
    plan.reason = "audio and video have the same length (within " + seconds_text(tolerance) + ")";
  } else if (a > v && v >= policy.short_video_s) {
    plan.mode = policy.audio_longer;
    plan.reason =
        "audio is " + seconds_text(a - v) + " longer than the video; " + how_video_fills(plan.mode);
  } else if (a > v) {
    plan.mode = SyncMode::loop;
    plan.reason = "audio is longer and the video is shorter than " +
                  seconds_text(policy.short_video_s) + "; the video loops to fill it";
  } else {
    plan.mode = policy.video_longer;
    plan.reason = plan.mode == SyncMode::silence
                      ? "video is " + seconds_text(v - a) +
                            " longer than the audio; the whole video is kept with silence"
                      : "video is " + seconds_text(v - a) +
                            " longer than the audio; only the first " + seconds_text(a) +
                            " of video are used";
  }
  plan.video_duration_s = v;
  plan.audio_duration_s = a;
  fill_durations(plan, v, a);
  plan.estimated_cost_usd = plan.output_duration_s / 60.0 * policy.price_per_minute_usd;
  return plan;
}

}  // namespace lipsyncd::media
