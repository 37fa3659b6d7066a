#pragma once
// The pieces of a long-form job: a segment cut out of a normalized video or audio, and a
// normalized video extended to the length the whole pair's sync mode asks for. Inputs are what
// the normalizer made (H.264 yuv420p MP4 without audio, WAV s16le); outputs are the same kinds,
// written atomically (temporary name + rename). Synchronous and CPU-heavy when they re-encode:
// call from the bounded CPU pool.
//
// Errors (lipsyncd::Error): not_decodable (input), encoder_missing, disk_error (transient),
// bounce_gop_too_long (extend_video, see there); std::invalid_argument for a span or mode that
// makes no sense (a caller's mistake).

#include <filesystem>
#include <vector>

#include "lipsyncd/config/config.hpp"
#include "lipsyncd/core/sync_mode.hpp"
#include "lipsyncd/media/media_info.hpp"
#include "lipsyncd/media/normalizer.hpp"

namespace lipsyncd::media {

// When the keyframes of `video` that begin a closed GOP are shown, in seconds from its start
// (ascending), read from its packets without decoding: where a segment can start (and the one
// before it end) without a re-encode.
std::vector<double> video_keyframes(const MediaInfo& video);

// Whether `span` of `video` can be cut without re-encoding: its start falls on a keyframe and
// its end on a keyframe or the stream's end, each within half a frame.
bool video_span_on_keyframes(const MediaInfo& video, TimeSpan span);

// `span` of a normalized video. Method remux (packets copied) when video_span_on_keyframes(),
// else transcode (a frame-accurate re-encode of exactly the span, with the normalizer's x264
// settings). The result lasts span.duration_s within one frame and starts at time 0.
NormalizedFile cut_video(const MediaInfo& video, TimeSpan span,
                         const std::filesystem::path& destination, const MediaConfig& config);

// The exact sample range of `span` of a WAV, as WAV s16le: round(start * rate) up to
// round(end * rate). A span reaching past the audio's end is padded with digital silence, so
// the file always holds round(end * rate) - round(start * rate) samples.
NormalizedFile cut_audio(const MediaInfo& audio, TimeSpan span,
                         const std::filesystem::path& destination, const MediaConfig& config);

// A normalized video made to last `length_s` (within one frame), re-encoded once:
//   loop:    the clip repeated from its start;
//   bounce:  forward, backward, forward, ... (the turning frames are not shown twice);
//   silence: the clip, then its last frame held.
// A clip longer than length_s is cut at length_s. Memory stays constant: the backward passes
// of bounce decode the clip one GOP at a time (seeking back GOP by GOP) and keep only that GOP's
// pictures, refusing with bounce_gop_too_long when one GOP would need more than 1 GiB (e.g.
// 10 s between keyframes at 4K; the normalizer's own output has at most 250 frames a GOP).
// Other modes (cut_off, remap) throw std::invalid_argument.
NormalizedFile extend_video(const MediaInfo& video, SyncMode mode, double length_s,
                            const std::filesystem::path& destination, const MediaConfig& config);

}  // namespace lipsyncd::media
