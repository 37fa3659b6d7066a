#include "lipsyncd/media/pair_preparation.hpp"

#include <cstdio>

#include "lipsyncd/core/error.hpp"
#include "lipsyncd/media/pair_check.hpp"
#include "lipsyncd/media/segment_media.hpp"
#include "lipsyncd/media/stitch.hpp"

namespace lipsyncd::media {
namespace {

namespace fs = std::filesystem;

double frame_seconds(const MediaInfo& video) {
  return video.video && video.video->fps > 0 ? 1.0 / video.video->fps : 1.0 / 30;
}

// The video over the whole output timeline: as normalized, or extended the way fal would have
// filled it in one request (looped, played forward and back, or its last frame held).
NormalizedFile video_over_output(const SyncPlan& plan, const NormalizedFile& normalized,
                                 const fs::path& out_dir, const MediaConfig& config) {
  const auto info = probe(normalized.file);
  const bool too_short = video_seconds(info) < plan.output_duration_s - frame_seconds(info) / 2;
  if (!too_short) return normalized;
  return extend_video(info, plan.mode, plan.output_duration_s, out_dir / "video_full.mp4", config);
}

// The audio over the whole output timeline: as normalized, or padded with silence (the
// `silence` mode with a longer video). A looped or bounced audio is fal's business in a single
// request only: a long-form job refuses it rather than guessing.
NormalizedFile audio_over_output(const SyncPlan& plan, const NormalizedFile& normalized,
                                 const fs::path& out_dir, const MediaConfig& config) {
  const auto info = probe(normalized.file);
  const double rate = info.audio && info.audio->sample_rate > 0 ? info.audio->sample_rate : 16000;
  if (audio_seconds(info) >= plan.output_duration_s - 1.0 / rate) return normalized;
  if (plan.mode != SyncMode::silence) {
    throw Error("long_form_unsupported",
                "sync mode " + std::string(to_string(plan.mode)) +
                    " with an audio shorter than the video is not supported for a job this long",
                "use sync_mode cut_off or silence, or a shorter video", Permanence::permanent);
  }
  return cut_audio(info, {0, plan.output_duration_s}, out_dir / "audio_full.wav", config);
}

std::vector<PreparedSegment> cut_segments(const LongFormPlan& long_form,
                                          const NormalizedFile& video, const NormalizedFile& audio,
                                          const fs::path& out_dir, const MediaConfig& config) {
  const auto video_info = probe(video.file);
  const auto audio_info = probe(audio.file);
  std::vector<PreparedSegment> segments;
  for (const auto& planned : long_form.segments) {
    char folder[16];
    std::snprintf(folder, sizeof folder, "%02d", planned.index);
    const auto dir = out_dir / "segments" / folder;
    fs::create_directories(dir);
    segments.push_back({.index = planned.index,
                        .span = planned.span,
                        .cut_reason = planned.cut_reason,
                        .video = cut_video(video_info, planned.span, dir / "video.mp4", config),
                        .audio = cut_audio(audio_info, planned.span, dir / "audio.wav", config)});
  }
  return segments;
}

}  // namespace

PreparedPair prepare_pair(const std::filesystem::path& video, const std::filesystem::path& audio,
                          const std::filesystem::path& out_dir, const Config& config,
                          std::optional<SyncMode> requested) {
  PreparedPair prepared;
  prepared.report = check_pair(video, audio, config, requested);
  const PairReport& report = prepared.report;
  if (report.verdict == Verdict::reject) {
    throw Error(report.reason_code, report.message, report.hint, Permanence::permanent);
  }
  prepared.video =
      normalize_video(*report.video, report.plan->video_span, out_dir / "video.mp4", config.media);
  prepared.audio =
      normalize_audio(*report.audio, report.plan->audio_span, out_dir / "audio.wav", config.media);
  if (report.long_form) {
    prepared.video = video_over_output(*report.plan, prepared.video, out_dir, config.media);
    prepared.audio = audio_over_output(*report.plan, prepared.audio, out_dir, config.media);
    prepared.segments =
        cut_segments(*report.long_form, prepared.video, prepared.audio, out_dir, config.media);
    prepared.audio_track = encode_audio_track(
        probe(prepared.audio.file), report.plan->output_duration_s, out_dir / "audio_track.m4a");
  }
  return prepared;
}

}  // namespace lipsyncd::media
