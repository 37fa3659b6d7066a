#include "lipsyncd/media/pair_check.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "lipsyncd/core/error.hpp"
#include "lipsyncd/media/long_form_plan.hpp"
#include "lipsyncd/media/normalizer.hpp"

namespace lipsyncd::media {
namespace {

// The model documents MP4, MOV, AVI and WebM; Matroska shares WebM's demuxer and is remuxed
// to MP4 like the others. Anything else (MPEG-TS, FLV, GIF, ...) is refused with a clear
// reason rather than guessed at.
const std::set<std::string> kVideoContainers = {"mov,mp4,m4a,3gp,3g2,mj2", "avi", "matroska,webm"};
// WAV, MP3, AAC, FLAC as documented, Ogg (Opus/Vorbis) because it converts losslessly enough
// to WAV, and any accepted video container whose audio track is the speech.
const std::set<std::string> kAudioContainers = {
    "wav", "mp3", "aac", "flac", "ogg", "mov,mp4,m4a,3gp,3g2,mj2", "avi", "matroska,webm"};

// A video may run this much past the limit: containers round durations up to whole audio
// frames, and "exactly 10 minutes" must stay accepted.
constexpr double kDurationSlackS = 0.1;

// Reasons that describe this machine, not the inputs: never a verdict on the pair.
bool is_environment_problem(const Error& error) {
  return error.is_transient() || error.reason_code() == "face_detector_missing" ||
         error.reason_code() == "encoder_missing";
}

PairReport& reject(PairReport& report, std::string reason_code, std::string message,
                   std::string hint = {}) {
  report.verdict = Verdict::reject;
  report.reason_code = std::move(reason_code);
  report.message = std::move(message);
  report.hint = std::move(hint);
  return report;
}

PairReport& reject(PairReport& report, const Error& error, std::string_view role) {
  if (is_environment_problem(error)) throw error;
  return reject(report, error.reason_code(), std::string(role) + ": " + error.what(), error.hint());
}

std::string seconds_text(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f s", seconds);
  return text;
}

std::string minutes_text(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f min", seconds / 60);
  return text;
}

// The first problem with the video input alone, or "" when it can be used.
bool validate_video(PairReport& report, const MediaInfo& video, const MediaConfig& config) {
  const std::string name = video.file.filename().string();
  if (video.still_image) {
    reject(report, "not_a_video", "video: " + name + " is a still image, not a video.",
           "use a video clip of the speaker; a photo cannot be lip-synced");
    return false;
  }
  if (!video.video) {
    reject(report, "no_video_stream", "video: " + name + " has no video stream (audio only).",
           "use a video of the speaker; this file can serve as the audio instead");
    return false;
  }
  if (!kVideoContainers.contains(video.container)) {
    reject(report, "unsupported_container",
           "video: " + name + " is a " + container_display_name(video.container) +
               " file; supported are MP4, MOV, AVI, Matroska and WebM.",
           "convert it to MP4 first");
    return false;
  }
  if (video_seconds(video) < config.min_video_duration_s) {
    reject(report, "video_too_short",
           "video: " + name + " lasts " + seconds_text(video_seconds(video)) + ", less than the " +
               seconds_text(config.min_video_duration_s) + " minimum.",
           "use a longer clip or lower [media] min_video_duration_s");
    return false;
  }
  return true;
}

bool validate_audio(PairReport& report, const MediaInfo& audio, const MediaConfig& config) {
  const std::string name = audio.file.filename().string();
  if (!audio.audio) {
    reject(report, "no_audio_stream", "audio: " + name + " has no audio stream.",
           "use a file that contains the speech to lip-sync to");
    return false;
  }
  if (!kAudioContainers.contains(audio.container)) {
    reject(report, "unsupported_container",
           "audio: " + name + " is a " + container_display_name(audio.container) +
               " file; supported are WAV, MP3, AAC, FLAC, Ogg and the audio track of a video.",
           "convert it to WAV first");
    return false;
  }
  if (audio_seconds(audio) < config.min_audio_duration_s) {
    reject(report, "audio_too_short",
           "audio: " + name + " lasts " + seconds_text(audio_seconds(audio)) + ", less than the " +
               seconds_text(config.min_audio_duration_s) + " minimum.",
           "use a longer recording or lower [media] min_audio_duration_s");
    return false;
  }
  return true;
}

enum class LengthVerdict { fits, long_form, rejected };

// One request takes at most `limit` seconds of video and renders as long as the plan says.
// Longer is a long-form job when [longform] allows it, else a rejection that says which key.
LengthVerdict validate_lengths(PairReport& report, const SyncPlan& plan, const Config& config) {
  const double limit = request_limit_s(config);
  const double with_slack = limit + kDurationSlackS;
  const bool video_over = plan.video_span.duration_s > with_slack;
  if (!video_over && plan.output_duration_s <= with_slack) return LengthVerdict::fits;
  const LongformConfig& longform = config.longform;
  const double longest = std::max(plan.video_span.duration_s, plan.output_duration_s);
  const bool within_total = longest <= longform.max_total_s + kDurationSlackS;
  if (longform.enabled && within_total && plan.mode == SyncMode::remap) {
    reject(report, "remap_too_long",
           "remap cannot be split into segments: fal fits the whole video to the whole audio, "
           "and this " +
               minutes_text(plan.output_duration_s) + " job is over the " + minutes_text(limit) +
               " one request takes.",
           "use another sync mode (cut_off, bounce, loop or silence) for a long job, or shorten "
           "the inputs");
    return LengthVerdict::rejected;
  }
  if (longform.enabled && within_total) return LengthVerdict::long_form;
  const std::string why = !longform.enabled
                              ? " and long-form jobs are off ([longform] enabled = false)"
                              : " and long-form jobs end at [longform] max_total_s = " +
                                    minutes_text(longform.max_total_s);
  const std::string hint = !longform.enabled
                               ? "set [longform] enabled = true to split it at speech pauses"
                               : "split the inputs, or raise [longform] max_total_s";
  if (video_over) {
    reject(report, "video_too_long",
           "video: the " + std::string(to_string(plan.mode)) + " plan uses " +
               minutes_text(plan.video_span.duration_s) + " of video; one request takes at most " +
               minutes_text(limit) + why + ".",
           hint + ", or cut the video, or use a shorter audio with sync mode cut_off");
  } else {
    reject(report, "output_too_long",
           "the lip-synced result would last " + minutes_text(plan.output_duration_s) +
               "; one request renders at most " + minutes_text(limit) + why + ".",
           hint);
  }
  return LengthVerdict::rejected;
}

bool reject_if_silent(PairReport& report, const Loudness& loudness, const Config& config) {
  if (loudness.peak_dbfs >= config.media.silence_threshold_dbfs) return false;
  char level[32];
  std::snprintf(level, sizeof level, "%.0f dBFS", loudness.peak_dbfs);
  reject(
      report, "audio_silent",
      "audio: " + report.audio->file.filename().string() + " is silent (peak " +
          (std::isinf(loudness.peak_dbfs) ? std::string("digital silence") : std::string(level)) +
          "); there is no speech to lip-sync to.",
      "check that the right audio file was used");
  return true;
}

// What a person can do about each face verdict of the video.
std::string face_hint(const FaceReport& face) {
  if (face.reason_code == "multiple_faces") {
    return face.is_warning ? "crop the video to one speaker for the best result"
                           : "crop the video to one speaker, or set [face] multiple_faces = "
                             "\"warn\"";
  }
  if (face.reason_code == "face_sideways") {
    return std::string("turn the video upright, e.g. ffmpeg -i IN.mp4 -vf transpose=") +
           (face.sideways_turn == "clockwise" ? "1" : "2") + " OUT.mp4 (90 degrees " +
           face.sideways_turn + "), or export it again from the phone so the rotation is kept";
  }
  if (face.face_in_other_stream >= 0) {
    const std::string stream = std::to_string(face.face_in_other_stream);
    return "keep only the stream with the speaker, e.g. ffmpeg -i IN -map 0:" + stream +
           " -map 0:a? -c copy OUT.mp4, or mark stream #" + stream + " as the default";
  }
  if (face.reason_code == "face_too_small") {
    return "crop or zoom so the speaker's face fills more of the frame, or lower [face] "
           "min_face_height_ratio";
  }
  // no_face, face_not_visible_enough
  return "use a video where the speaker's face is visible, frontal and well lit most of the "
         "time, or lower [face] min_visible_ratio";
}

// The pair's verdict from a face report: reject, warn, or nothing to say ("" reason).
bool apply_face_verdict(PairReport& report, const FaceReport& face, const std::string& where) {
  if (face.reason_code.empty()) return false;
  report.verdict = face.is_warning ? Verdict::accept_with_warning : Verdict::reject;
  report.reason_code = face.reason_code;
  report.message = where + face.message;
  report.hint = face_hint(face);
  return true;
}

// "segment 2 (9:01.3-18:03.0): "
std::string segment_label(const PlannedSegment& segment) {
  return "segment " + std::to_string(segment.index) + " (" + clock_text(segment.span.start_s) +
         "\u2013" + clock_text(segment.span.end_s()) + "): ";
}

// Every segment must show the face itself: a long talk may have a stretch of slides. The
// segments of a looped or bounced clip often show the same part of it, checked once.
void check_segment_faces(PairReport& report, LongFormPlan& plan, const Config& config) {
  std::vector<std::pair<TimeSpan, FaceReport>> checked;
  const double video_s = report.plan->video_duration_s;
  for (PlannedSegment& segment : plan.segments) {
    const TimeSpan span = source_span_of(report.plan->mode, video_s, segment.span);
    const auto same = std::find_if(checked.begin(), checked.end(), [&](const auto& entry) {
      return std::fabs(entry.first.start_s - span.start_s) < 1e-3 &&
             std::fabs(entry.first.duration_s - span.duration_s) < 1e-3;
    });
    segment.face =
        same != checked.end() ? same->second : check_faces(*report.video, span, config.face);
    if (same == checked.end()) checked.emplace_back(span, *segment.face);
  }
}

// The pair's face verdict from its segments': the first rejection, else the first warning,
// else the segment that showed the face least (report.face keeps the usual fields).
void judge_segment_faces(PairReport& report, const LongFormPlan& plan) {
  const PlannedSegment* warning = nullptr;
  const PlannedSegment* weakest = nullptr;
  for (const PlannedSegment& segment : plan.segments) {
    const FaceReport& face = *segment.face;
    if (!face.reason_code.empty() && !face.is_warning) {
      report.face = face;
      apply_face_verdict(report, face, "video: " + segment_label(segment));
      return;
    }
    if (!face.reason_code.empty() && warning == nullptr) warning = &segment;
    if (weakest == nullptr || face.visible_ratio < weakest->face->visible_ratio) weakest = &segment;
  }
  const PlannedSegment& shown = warning != nullptr ? *warning : *weakest;
  report.face = *shown.face;
  if (warning != nullptr) {
    apply_face_verdict(report, *warning->face, "video: " + segment_label(*warning));
  }
}

std::string ready_message(const PairReport& report) {
  std::string text = "ready: " + std::string(to_string(report.plan->mode)) + ", " +
                     seconds_text(report.plan->output_duration_s) + " of output";
  if (report.long_form) {
    text +=
        " as a long-form job of " + std::to_string(report.long_form->segments.size()) + " segments";
  }
  return text + ".";
}

// A pair longer than one request: planned in segments at speech pauses, each with its own face
// check, all before anything is uploaded.
PairReport& check_long_form(PairReport& report, const Config& config) {
  Loudness loudness;
  try {
    report.long_form = plan_long_form_pair(*report.video, *report.audio, *report.plan, config,
                                           report.video_needs_transcode, &loudness);
  } catch (const Error& error) {
    return reject(report, error, "audio");
  }
  report.audio->loudness = loudness;
  if (reject_if_silent(report, loudness, config)) return report;
  try {
    check_segment_faces(report, *report.long_form, config);
  } catch (const Error& error) {
    return reject(report, error, "video");
  }
  report.verdict = Verdict::accept;
  report.message = ready_message(report);
  judge_segment_faces(report, *report.long_form);
  return report;
}

}  // namespace

PairReport check_pair(const std::filesystem::path& video_file,
                      const std::filesystem::path& audio_file, const Config& config,
                      std::optional<SyncMode> requested) {
  PairReport report;
  try {
    report.video = probe(video_file);
  } catch (const Error& error) {
    return reject(report, error, "video");
  }
  try {
    report.audio = probe(audio_file);
  } catch (const Error& error) {
    return reject(report, error, "audio");
  }
  if (!validate_video(report, *report.video, config.media)) return report;
  if (!validate_audio(report, *report.audio, config.media)) return report;

  report.plan = plan_sync(*report.video, *report.audio, config.policy, requested);
  report.video_needs_transcode =
      video_needs_transcode(*report.video, report.plan->video_span, config.media);
  report.audio_needs_transcode =
      audio_needs_transcode(*report.audio, report.plan->audio_span, config.media);
  const LengthVerdict length = validate_lengths(report, *report.plan, config);
  if (length == LengthVerdict::rejected) return report;
  if (length == LengthVerdict::long_form) return check_long_form(report, config);

  try {
    report.audio->loudness = measure_loudness(*report.audio);
  } catch (const Error& error) {
    return reject(report, error, "audio");
  }
  if (reject_if_silent(report, *report.audio->loudness, config)) return report;

  try {
    report.face = check_faces(*report.video, report.plan->video_span, config.face);
  } catch (const Error& error) {
    return reject(report, error, "video");
  }
  if (apply_face_verdict(report, *report.face, "video: ")) return report;
  report.verdict = Verdict::accept;
  report.message = ready_message(report);
  return report;
}

}  // namespace lipsyncd::media
