#include "lipsyncd/daemon/media_pipeline_work.hpp"

#include "lipsyncd/core/error.hpp"
#include "lipsyncd/media/face_check.hpp"
#include "lipsyncd/media/media_info.hpp"
#include "lipsyncd/media/sync_plan.hpp"

namespace lipsyncd::daemon {
namespace {

[[noreturn]] void reject(std::string reason_code, std::string message, std::string hint) {
  throw Error(std::move(reason_code), std::move(message), std::move(hint), Permanence::permanent);
}

void require_usable_video(const media::MediaInfo& video, const MediaConfig& limits) {
  const auto name = video.file.filename().string();
  if (video.still_image) {
    reject("not_a_video", name + " is a still image, not a video",
           "use a video of the person speaking");
  }
  if (!video.video) {
    reject("no_video_stream", name + " has no video stream", "use a video with a visible face");
  }
  if (video.duration_s > limits.max_video_duration_s) {
    reject("video_too_long",
           name + " lasts " + std::to_string(video.duration_s) + " s, more than the " +
               std::to_string(limits.max_video_duration_s) + " s fal accepts",
           "cut the video into shorter parts");
  }
  if (video.duration_s < limits.min_video_duration_s) {
    reject("video_too_short", name + " is too short to lip-sync", "use a longer video");
  }
}

void require_usable_audio(media::MediaInfo& audio, const MediaConfig& limits) {
  const auto name = audio.file.filename().string();
  if (!audio.audio) {
    reject("no_audio_stream", name + " has no audio stream", "use a WAV, MP3, AAC or FLAC file");
  }
  if (audio.duration_s < limits.min_audio_duration_s) {
    reject("audio_too_short", name + " is too short to lip-sync", "use a longer audio track");
  }
  audio.loudness = media::measure_loudness(audio);
  if (audio.loudness->peak_dbfs < limits.silence_threshold_dbfs) {
    reject("audio_silent", name + " is silent", "check that the right audio file was used");
  }
}

}  // namespace

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
                                         const std::filesystem::path& /*out_dir*/,
                                         std::optional<SyncMode> requested) {
  const auto settings = config();
  auto video = media::probe(video_file);
  require_usable_video(video, settings->media);
  auto audio = media::probe(audio_file);
  require_usable_audio(audio, settings->media);
  const auto plan = media::plan_sync(video, audio, settings->policy, requested);
  const auto faces = media::check_faces(video, plan.video_span, settings->face);
  PreparedMedia prepared;
  if (!faces.reason_code.empty()) {
    if (!faces.is_warning)
      reject(faces.reason_code, faces.message, "use a clip with one clear face");
    prepared.warnings.push_back(faces.message);
  }
  // The inputs are uploaded as they are: fal accepts every container the probe let through.
  prepared.video = video_file;
  prepared.audio = audio_file;
  prepared.sync_mode = plan.mode;
  prepared.sync_mode_reason = plan.reason;
  prepared.video_s = video.duration_s;
  prepared.audio_s = audio.duration_s;
  prepared.output_s = plan.output_duration_s;
  prepared.estimated_usd = plan.estimated_cost_usd;
  return prepared;
}

outbox::VideoFacts MediaPipelineWork::probe_video(const std::filesystem::path& file) {
  const auto info = media::probe(file);
  return {info.video.has_value(), info.duration_s};
}

}  // namespace lipsyncd::daemon
