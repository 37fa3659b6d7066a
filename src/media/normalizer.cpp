#include "lipsyncd/media/normalizer.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "libav_error.hpp"
#include "lipsyncd/core/error.hpp"
#include "stream_writers.hpp"

namespace lipsyncd::media {
namespace {

bool is_mp4_family(const std::string& container) {
  return container.starts_with("mov,mp4");
}

// Whether `span` reaches the end of a stream that lasts `duration_s` (within one frame).
bool covers_whole(TimeSpan span, double duration_s, double frame_s) {
  return span.start_s <= frame_s / 2 && span.end_s() >= duration_s - frame_s;
}

void require_video(const MediaInfo& info) {
  if (!info.video) {
    throw Error("no_video_stream", info.file.filename().string() + " has no video stream.",
                "use a video file that shows the speaker");
  }
}

void require_audio(const MediaInfo& info) {
  if (!info.audio) {
    throw Error("no_audio_stream", info.file.filename().string() + " has no audio stream.",
                "use a file that contains the speech to lip-sync to");
  }
}

}  // namespace

std::string_view to_string(NormalizeMethod method) noexcept {
  switch (method) {
    case NormalizeMethod::pass_through:
      return "pass_through";
    case NormalizeMethod::remux:
      return "remux";
    case NormalizeMethod::transcode:
      return "transcode";
  }
  return "transcode";
}

VideoTarget video_target(const VideoStreamInfo& video, const MediaConfig& config) {
  VideoTarget target;
  double width = video.display_width();
  double height = video.display_height();
  if (config.max_height > 0 && height > config.max_height) {
    width = width * config.max_height / height;
    height = config.max_height;
  }
  // Round down to even so the picture is never enlarged (721 -> 720, not 722).
  target.width = std::max(2, static_cast<int>(width) / 2 * 2);
  target.height = std::max(2, static_cast<int>(height) / 2 * 2);
  const double fps = video.fps > 0 ? video.fps : 30;
  // Common NTSC rates keep their exact fraction; anything else is rounded to a whole rate.
  for (const double ntsc : {23.976, 29.97, 59.94}) {
    if (std::fabs(fps - ntsc) < 0.01) {
      target.fps_num = static_cast<int>(std::lround(ntsc * 1.001)) * 1000;
      target.fps_den = 1001;
      return target;
    }
  }
  target.fps_num = std::clamp(static_cast<int>(std::lround(fps)), 1, 120);
  target.fps_den = 1;
  return target;
}

bool video_needs_transcode(const MediaInfo& info, TimeSpan span, const MediaConfig& config) {
  if (!info.video) return true;
  const VideoStreamInfo& v = *info.video;
  const double frame_s = v.fps > 0 ? 1.0 / v.fps : 1.0 / 30;
  const bool remuxable_container =
      is_mp4_family(info.container) || info.container == "matroska,webm";
  return !(v.codec == "h264" && v.pixel_format == "yuv420p" && !v.variable_frame_rate &&
           v.rotation == 0 && v.width % 2 == 0 && v.height % 2 == 0 &&
           (config.max_height <= 0 || v.height <= config.max_height) && remuxable_container &&
           covers_whole(span, std::min(info.duration_s, v.duration_s), frame_s));
}

bool audio_needs_transcode(const MediaInfo& info, TimeSpan span, const MediaConfig& config) {
  if (!info.audio) return true;
  const AudioStreamInfo& a = *info.audio;
  return !(info.container == "wav" && a.codec == "pcm_s16le" &&
           (config.audio_sample_rate <= 0 || config.audio_sample_rate == a.sample_rate) &&
           covers_whole(span, audio_seconds(info), 1.0 / std::max(1, a.sample_rate)));
}

NormalizedFile normalize_video(const MediaInfo& info, TimeSpan span,
                               const std::filesystem::path& destination,
                               const MediaConfig& config) {
  libav::initialize();
  require_video(info);
  if (span.duration_s <= 0) span = {0, video_seconds(info)};
  if (!video_needs_transcode(info, span, config)) return remux_video(info, destination);
  return transcode_video(info, span, destination, config);
}

NormalizedFile normalize_audio(const MediaInfo& info, TimeSpan span,
                               const std::filesystem::path& destination,
                               const MediaConfig& config) {
  libav::initialize();
  require_audio(info);
  if (span.duration_s <= 0) span = {0, audio_seconds(info)};
  if (!audio_needs_transcode(info, span, config)) return copy_audio(info, destination);
  return transcode_audio(info, span, destination, config);
}

}  // namespace lipsyncd::media
