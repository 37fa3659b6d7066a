#include "lipsyncd/daemon/media_pipeline_work.hpp"

#include "lipsyncd/core/error.hpp"
#include "lipsyncd/media/media_info.hpp"
#include "lipsyncd/media/pair_preparation.hpp"

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

PreparedMedia MediaPipelineWork::prepare(const std::filesystem::path& video_file,
                                         const std::filesystem::path& audio_file,
                                         const std::filesystem::path& out_dir,
                                         std::optional<SyncMode> requested) {
  // The media module owns every verdict (probe, limits, silence, faces, plan) and writes the
  // normalized, pre-trimmed files; a rejected pair throws a permanent lipsyncd::Error.
  const auto prepared_pair =
      media::prepare_pair(video_file, audio_file, out_dir, *config(), requested);
  const auto& report = prepared_pair.report;
  const auto& plan = report.plan.value();
  PreparedMedia prepared;
  if (report.verdict == media::Verdict::accept_with_warning) {
    prepared.warnings.push_back(report.message);
  }
  prepared.video = prepared_pair.video.file;
  prepared.audio = prepared_pair.audio.file;
  prepared.sync_mode = plan.mode;
  prepared.sync_mode_reason = plan.reason;
  // The plan's durations are the streams' (what is uploaded), not the containers'.
  prepared.video_s = plan.video_duration_s;
  prepared.audio_s = plan.audio_duration_s;
  prepared.output_s = plan.output_duration_s;
  prepared.estimated_usd = plan.estimated_cost_usd;
  return prepared;
}

outbox::VideoFacts MediaPipelineWork::probe_video(const std::filesystem::path& file) {
  const auto info = media::probe(file);
  return {info.video.has_value(), info.duration_s};
}

}  // namespace lipsyncd::daemon
