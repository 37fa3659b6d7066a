#pragma once
// The checks the daemon runs before uploading anything, in cost order: probe both files,
// validate containers, streams and lengths, plan the sync mode, measure the audio's loudness,
// then look for a face in the span that will be used. Synchronous; run on the CPU pool.

#include <filesystem>
#include <optional>

#include "lipsyncd/config/config.hpp"
#include "lipsyncd/core/sync_mode.hpp"
#include "lipsyncd/media/pair_report.hpp"

namespace lipsyncd::media {

// A bad input is a verdict, not an exception: the report says reject with a reason code
// (empty_file, not_media, not_decodable, not_a_video, no_video_stream, no_audio_stream,
// unsupported_container, video_too_short, audio_too_short, video_too_long, output_too_long,
// remap_too_long, audio_silent, no_face, face_not_visible_enough, face_too_small, multiple_faces).
// Any file can serve as the audio when it has an audio track (e.g. an MP4 with speech).
// A pair longer than one request (request_limit_s()) is planned as a long-form job
// (report.long_form, with a face check per segment) when [longform] enabled and the output is
// at most [longform] max_total_s; otherwise video_too_long / output_too_long name that key.
// Throws lipsyncd::Error only for problems of this machine rather than of the inputs
// (face_detector_missing, transient errors).
PairReport check_pair(const std::filesystem::path& video, const std::filesystem::path& audio,
                      const Config& config, std::optional<SyncMode> requested = std::nullopt);

}  // namespace lipsyncd::media
