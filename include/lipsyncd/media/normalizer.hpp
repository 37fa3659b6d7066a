#pragma once
// Turns an accepted input into what the model prefers: video -> MP4 (H.264 yuv420p, even size,
// constant frame rate, upright pixels, height capped, +faststart, no audio track); audio ->
// WAV PCM s16le. Compliant inputs are remuxed (video) or copied (audio) instead of re-encoded.
// Only `span` is written (pre-trim). Outputs appear atomically (temporary name + rename).
// Synchronous and CPU-heavy (x264 uses every core it may): call from the bounded CPU pool.

#include <filesystem>
#include <string_view>

#include "lipsyncd/config/config.hpp"
#include "lipsyncd/media/media_info.hpp"

namespace lipsyncd::media {

enum class NormalizeMethod { pass_through, remux, transcode };
std::string_view to_string(NormalizeMethod method) noexcept;

struct NormalizedFile {
  std::filesystem::path file;
  double duration_s = 0;
  NormalizeMethod method = NormalizeMethod::transcode;
};

// The picture a transcode produces: upright display size scaled to at most max_height, both
// sides even; frame rate as a fraction (the input's average, or its nominal rate when it varies).
struct VideoTarget {
  int width = 0;
  int height = 0;
  int fps_num = 30;
  int fps_den = 1;
};
VideoTarget video_target(const VideoStreamInfo& video, const MediaConfig& config);

// True when `span` of the input cannot simply be remuxed / copied.
bool video_needs_transcode(const MediaInfo& video, TimeSpan span, const MediaConfig& config);
bool audio_needs_transcode(const MediaInfo& audio, TimeSpan span, const MediaConfig& config);

// Throw lipsyncd::Error: not_decodable (input), encoder_missing, disk_error (transient).
NormalizedFile normalize_video(const MediaInfo& video, TimeSpan span,
                               const std::filesystem::path& destination, const MediaConfig& config);
NormalizedFile normalize_audio(const MediaInfo& audio, TimeSpan span,
                               const std::filesystem::path& destination, const MediaConfig& config);

}  // namespace lipsyncd::media
