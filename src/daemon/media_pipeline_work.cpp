#include "lipsyncd/daemon/media_pipeline_work.hpp"

#include <algorithm>
#include <cmath>

#include "lipsyncd/core/error.hpp"
#include "lipsyncd/media/media_info.hpp"
#include "lipsyncd/media/pair_preparation.hpp"
#include "lipsyncd/media/stitch.hpp"

namespace lipsyncd::daemon {

MediaPipelineWork::MediaPipelineWork(std::shared_ptr<const Config> config)
    : config_(std::move(config)) {}

void MediaPipelineWork::set_config(std::shared_ptr<const Config> config) {
  std::lock_guard lock(mutex_);
  config_ = std::move(config);
}

std::shared_ptr<const Config> MediaPipelineWork::config() const {
  std::lock_guard lock(mutex_);
  return config_;
}

PreparedJob MediaPipelineWork::prepare(const std::filesystem::path& video_file,
                                       const std::filesystem::path& audio_file,
                                       const std::filesystem::path& out_dir,
                                       std::optional<SyncMode> requested,
                                       const ModelChoice& price) {
  // The media module owns every verdict (probe, limits, silence, faces, plan) and writes the
  // normalized, pre-trimmed files; a rejected pair throws a permanent lipsyncd::Error.
  const auto prepared_pair =
      media::prepare_pair(video_file, audio_file, out_dir, *config(), requested);
  const auto& report = prepared_pair.report;
  const auto& plan = report.plan.value();
  PreparedJob prepared;
  if (report.verdict == media::Verdict::accept_with_warning) {
    prepared.warnings.push_back(report.message);
  }
  // The plan's durations are the streams' (what is uploaded), not the containers'.
  prepared.plan = {.sync_mode = plan.mode,
                   .reason = plan.reason,
                   .model = price.model,
                   .video_s = plan.video_duration_s,
                   .audio_s = plan.audio_duration_s,
                   .output_s = plan.output_duration_s,
                   .estimated_usd = estimate_usd(plan.output_duration_s, price.usd_per_minute),
                   .normalized_video = prepared_pair.video.file,
                   .normalized_audio = prepared_pair.audio.file,
                   .usd_per_minute = price.usd_per_minute};
  // A long-form job uploads only its segments; its own audio is what the stitch muxes.
  if (!prepared_pair.segments.empty()) {
    prepared.plan.normalized_audio = prepared_pair.audio_track.file;
  }
  for (const auto& segment : prepared_pair.segments) {
    prepared.plan.segments.push_back(
        {.index = segment.index,
         .start_s = segment.span.start_s,
         .end_s = segment.span.end_s(),
         .cut_reason = segment.cut_reason,
         .estimated_usd = estimate_usd(segment.span.duration_s, price.usd_per_minute),
         .video = segment.video.file,
         .audio = segment.audio.file});
  }
  return prepared;
}

StitchSummary MediaPipelineWork::stitch(const StitchWork& work,
                                        const std::filesystem::path& destination) {
  const auto stitched = media::stitch_segments({.segments = work.segments,
                                                .planned_durations_s = work.planned_s,
                                                .audio = work.audio,
                                                .expected_duration_s = work.expected_s},
                                               destination, config()->media);
  StitchSummary summary{.reencoded = stitched.reencoded,
                        .reencode_reason = stitched.reencode_reason,
                        .duration_s = stitched.duration_s};
  for (const auto& seam : stitched.seams) {
    summary.worst_seam_offset_s = std::max(summary.worst_seam_offset_s, std::abs(seam.offset_s));
  }
  return summary;
}

VideoFacts MediaPipelineWork::probe_video(const std::filesystem::path& file) {
  const auto info = media::probe(file);
  return {info.video.has_value(), info.duration_s};
}

}  // namespace lipsyncd::daemon
