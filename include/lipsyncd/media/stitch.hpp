#pragma once
// Joins a long-form job's segment outputs (fal's videos, in order) into one MP4 with the
// original audio track, then checks the result before anyone sees it.
//
// Video: the segments' video streams are joined with libavformat by stream copy when their codec
// parameters match (codec, size, pixel format, profile, extradata, time base, frame rate, B-frame
// delay): timestamps are shifted so each segment starts where the one before it ends. When any
// segment differs, every segment is re-encoded (x264 with the normalizer's settings, at the first
// segment's size and frame rate) and StitchResult says why.
// Audio: the segments' own audio is ignored. The original audio track of the output timeline is
// encoded once to AAC (libavcodec's native encoder), so no click can appear at a seam; it is cut
// at expected_duration_s. Encoding it is most of a stream-copy stitch's time (about 40 s of CPU
// for an hour of 16 kHz mono), so a caller can do it beforehand, while the segments are at fal,
// with encode_audio_track(), and pass that file as StitchRequest::audio: an AAC track is copied.
// The file is +faststart and appears atomically (temporary name + rename).
//
// Checks, each failing with lipsyncd::Error "stitch_check_failed" (permanent) naming what is off
// and where:
//   before joining: every segment is readable and complete and lasts its planned duration
//     within one frame;
//   after joining (reading the written file): it lasts expected_duration_s within one frame; every
//     video packet decodes; at each seam the video time where segment k+1's first frame lands is
//     within one frame of the planned cut time (sum of the planned durations before it), measured
//     against the audio track's own start; the audio track is not shorter than the video by more
//     than a frame.
// A file that fails its checks is removed. A full disk is disk_error (transient). Synchronous,
// CPU-bound: call from the bounded CPU pool.

#include <filesystem>
#include <string>
#include <vector>

#include "lipsyncd/config/config.hpp"
#include "lipsyncd/media/media_info.hpp"
#include "lipsyncd/media/normalizer.hpp"

namespace lipsyncd::media {

struct StitchRequest {
  std::vector<std::filesystem::path> segments;  // fal's outputs, in order
  std::vector<double> planned_durations_s;      // per segment
  std::filesystem::path audio;     // the whole original audio track (WAV) of the output timeline
  double expected_duration_s = 0;  // 0: the sum of planned_durations_s
};

struct SeamCheck {
  int after_segment = 0;    // 1-based: the seam between this segment and the next
  double planned_at_s = 0;  // the planned cut time
  double video_at_s = 0;    // where the next segment's first frame landed
  double offset_s = 0;      // video_at_s - planned_at_s, against the audio's start
};

struct StitchResult {
  bool reencoded = false;
  std::string reencode_reason;  // empty when the segments were joined by stream copy
  double duration_s = 0;        // of the written video stream
  double frame_s = 0;           // one frame of the output: the checks' tolerance
  std::vector<SeamCheck> seams;
  double write_seconds = 0;  // wall time joining and writing the file (with the segments' probes)
  double check_seconds = 0;  // wall time of the checks that read the written file back
};

// The audio track encoded to AAC in an MP4 (.m4a), cut at length_s, ready for the stitcher to
// copy. Throws no_audio_stream, not_decodable, encoder_missing, disk_error (transient).
NormalizedFile encode_audio_track(const MediaInfo& audio, double length_s,
                                  const std::filesystem::path& destination);

// Throws std::invalid_argument when there are no segments or the durations do not match them.
StitchResult stitch_segments(const StitchRequest& request, const std::filesystem::path& destination,
                             const MediaConfig& config);

}  // namespace lipsyncd::media
