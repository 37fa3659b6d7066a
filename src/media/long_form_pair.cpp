// plan_long_form() on a real pair: the measurements it needs, taken from the files.

#include <algorithm>
#include <cstdio>

#include "lipsyncd/media/long_form_plan.hpp"
#include "lipsyncd/media/segment_media.hpp"

namespace lipsyncd::media {
namespace {

constexpr double kDefaultFrameS = 1.0 / 25;

// Keyframes only help when the segments are cut from the video as it arrives: fal gets a
// stream copy of it when it needs no transcode and the mode neither extends nor re-times it.
// loop and bounce play an extended, re-encoded video; silence with the audio longer holds
// the last frame in a re-encoded tail; a transcoded video gets the encoder's own keyframes.
bool keyframes_usable(const SyncPlan& sync, bool video_needs_transcode, double frame_s) {
  if (video_needs_transcode) return false;
  const bool same_timeline = sync.mode == SyncMode::cut_off || sync.mode == SyncMode::silence;
  return same_timeline && sync.video_duration_s + frame_s / 2 >= sync.output_duration_s;
}

std::string pause_note(const AudioEnvelope& envelope, const PauseSettings& settings,
                       std::size_t pauses) {
  char text[200];
  std::snprintf(text, sizeof text,
                "%zu speech pauses: RMS (20 ms windows) below %.1f dBFS for at least %.2f s "
                "(speech level %.1f dBFS minus %.0f dB)",
                pauses, pause_threshold_dbfs(envelope, settings), settings.min_pause_s,
                speech_level_dbfs(envelope, settings), settings.below_speech_db);
  return text;
}

}  // namespace

LongFormPlan plan_long_form_pair(const MediaInfo& video, const MediaInfo& audio,
                                 const SyncPlan& sync, const Config& config,
                                 bool video_needs_transcode, Loudness* loudness) {
  const AudioEnvelope measured = measure_envelope(audio);
  if (loudness != nullptr) *loudness = measured.loudness;
  const AudioEnvelope envelope = fit_envelope(measured, sync.output_duration_s);
  PauseSettings settings;
  settings.min_pause_s = config.longform.min_pause_s;
  settings.below_speech_db = config.longform.pause_below_speech_db;

  LongFormInputs inputs;
  inputs.output_s = sync.output_duration_s;
  inputs.max_segment_s = config.longform.max_segment_s;
  inputs.request_limit_s = request_limit_s(config);
  inputs.pauses = find_pauses(envelope, settings);
  inputs.frame_s = video.video && video.video->fps > 0 ? 1.0 / video.video->fps : kDefaultFrameS;
  if (keyframes_usable(sync, video_needs_transcode, inputs.frame_s)) {
    inputs.keyframes = video_keyframes(video);  // the cut points cut_video() copies at
  }
  inputs.usd_per_minute = config.policy.price_per_minute_usd;
  inputs.min_pause_s = settings.min_pause_s;

  LongFormPlan plan = plan_long_form(inputs, envelope);
  plan.notes.insert(plan.notes.begin(), pause_note(envelope, settings, inputs.pauses.size()));
  return plan;
}

}  // namespace lipsyncd::media
