#include "lipsyncd/media/pair_check.hpp"

#include <cmath>
#include <cstdio>
#include <set>
#include <string>

#include "lipsyncd/core/error.hpp"
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

// The model takes at most max_video_duration_s of video and renders as long as the plan says.
bool validate_lengths(PairReport& report, const SyncPlan& plan, const MediaConfig& config) {
  const double limit = config.max_video_duration_s + kDurationSlackS;
  if (plan.video_span.duration_s > limit) {
    reject(report, "video_too_long",
           "video: the " + std::string(to_string(plan.mode)) + " plan uses " +
               minutes_text(plan.video_span.duration_s) + " of video; the model accepts at most " +
               minutes_text(config.max_video_duration_s) + ".",
           "cut the video, or use a shorter audio with sync mode cut_off");
    return false;
  }
  if (plan.output_duration_s > limit) {
    reject(report, "output_too_long",
           "the lip-synced result would last " + minutes_text(plan.output_duration_s) +
               "; the model renders at most " + minutes_text(config.max_video_duration_s) + ".",
           "split the audio into shorter parts");
    return false;
  }
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
  if (!validate_lengths(report, *report.plan, config.media)) return report;

  try {
    report.audio->loudness = measure_loudness(*report.audio);
  } catch (const Error& error) {
    return reject(report, error, "audio");
  }
  if (!(report.audio->loudness->peak_dbfs >= config.media.silence_threshold_dbfs)) {
    char level[32];
    std::snprintf(level, sizeof level, "%.0f dBFS", report.audio->loudness->peak_dbfs);
    return reject(
        report, "audio_silent",
        "audio: " + audio_file.filename().string() + " is silent (peak " +
            (std::isinf(report.audio->loudness->peak_dbfs) ? std::string("digital silence")
                                                           : std::string(level)) +
            "); there is no speech to lip-sync to.",
        "check that the right audio file was used");
  }

  try {
    report.face = check_faces(*report.video, report.plan->video_span, config.face);
  } catch (const Error& error) {
    return reject(report, error, "video");
  }
  if (!report.face->reason_code.empty()) {
    report.verdict = report.face->is_warning ? Verdict::accept_with_warning : Verdict::reject;
    report.reason_code = report.face->reason_code;
    report.message = "video: " + report.face->message;
    report.hint = face_hint(*report.face);
    return report;
  }
  report.verdict = Verdict::accept;
  report.message = "ready: " + std::string(to_string(report.plan->mode)) + ", " +
                   seconds_text(report.plan->output_duration_s) + " of output.";
  return report;
}

}  // namespace lipsyncd::media
