// Cutting a segment out of a normalized video or audio: a stream copy when the cut falls on
// keyframes, a precise re-encode otherwise; the audio to the sample.

#include "lipsyncd/media/segment_media.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "libav_error.hpp"
#include "lipsyncd/core/error.hpp"
#include "stream_decoder.hpp"
#include "stream_writers.hpp"

namespace lipsyncd::media {
namespace {

double frame_seconds_of(const MediaInfo& video) {
  return 1.0 / (video.video && video.video->fps > 0 ? video.video->fps : 30);
}

void require_span(TimeSpan span, const MediaInfo& info) {
  if (!(span.start_s >= 0) || !(span.duration_s > 0)) {
    throw std::invalid_argument("cannot cut " + info.file.filename().string() + " at start " +
                                std::to_string(span.start_s) + " s for " +
                                std::to_string(span.duration_s) + " s");
  }
}

}  // namespace

std::vector<double> video_keyframes(const MediaInfo& info) {
  libav::initialize();
  return keyframe_presentation_seconds(info.file);
}

bool video_span_on_keyframes(const MediaInfo& info, TimeSpan span) {
  if (!info.video) return false;
  const double half_frame = frame_seconds_of(info) / 2;
  const std::vector<double> keyframes = keyframe_presentation_seconds(info.file);
  const auto on_keyframe = [&](double t) {
    return std::any_of(keyframes.begin(), keyframes.end(),
                       [&](double k) { return std::fabs(k - t) <= half_frame; });
  };
  const bool end_of_stream = span.end_s() >= video_seconds(info) - half_frame;
  return on_keyframe(span.start_s) && (end_of_stream || on_keyframe(span.end_s()));
}

NormalizedFile cut_video(const MediaInfo& info, TimeSpan span,
                         const std::filesystem::path& destination, const MediaConfig& config) {
  libav::initialize();
  require_span(span, info);
  if (!info.video) {
    throw Error("no_video_stream", info.file.filename().string() + " has no video stream.");
  }
  if (video_span_on_keyframes(info, span)) return remux_video(info, destination, span);
  return transcode_video(info, span, destination, config);
}

NormalizedFile cut_audio(const MediaInfo& info, TimeSpan span,
                         const std::filesystem::path& destination, const MediaConfig& config) {
  libav::initialize();
  require_span(span, info);
  if (!info.audio) {
    throw Error("no_audio_stream", info.file.filename().string() + " has no audio stream.");
  }
  return transcode_audio(info, span, destination, config, AudioPadding::silence_to_span);
}

}  // namespace lipsyncd::media
