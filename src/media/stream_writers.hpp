#pragma once
// The ways the normalizer writes a stream; normalizer.cpp decides which one a file needs.
// Private to src/media.

#include <filesystem>

#include "lipsyncd/config/config.hpp"
#include "lipsyncd/media/media_info.hpp"
#include "lipsyncd/media/normalizer.hpp"

namespace lipsyncd::media {

// decoder -> [rotate] -> scale -> fps (constant rate) -> yuv420p -> libx264 -> MP4
// (video_transcode.cpp).
NormalizedFile transcode_video(const MediaInfo& info, TimeSpan span,
                               const std::filesystem::path& destination, const MediaConfig& config);
// Copies the compressed video packets into a fresh MP4: no decoding, no quality loss. With a
// span (duration > 0) only the packets shown in it, shifted to start at 0: the span's start
// must be a keyframe and its end a keyframe or the stream's end (segment_media.cpp checks).
NormalizedFile remux_video(const MediaInfo& info, const std::filesystem::path& destination,
                           TimeSpan span = {});

// decoder -> resample to packed s16 (target rate) -> pcm_s16le -> WAV, stopping at the span
// (audio_transcode.cpp). With pad_to_span, a span reaching past the audio's end is filled with
// digital silence, so the file lasts exactly the span.
enum class AudioPadding { none, silence_to_span };
NormalizedFile transcode_audio(const MediaInfo& info, TimeSpan span,
                               const std::filesystem::path& destination, const MediaConfig& config,
                               AudioPadding padding = AudioPadding::none);
// A compliant WAV is copied byte for byte (through the same atomic rename).
NormalizedFile copy_audio(const MediaInfo& info, const std::filesystem::path& destination);

}  // namespace lipsyncd::media
