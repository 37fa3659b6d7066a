#pragma once
// Produces the emulator's output video: the submitted video fitted to the submitted audio by
// fal's sync mode, encoded as MP4 (H.264 + AAC) carrying that audio. No lip movement is
// synthesized: the emulator proves the plumbing and the durations, not the model.

#include <filesystem>

#include "lipsyncd/core/sync_mode.hpp"

namespace lipsyncd::emulator {

struct MediaInfo {
  double duration_s = 0;
  bool has_video = false;
  bool has_audio = false;
  double fps = 25;  // of the first video stream; 25 when unknown
};

// What ffprobe says about a file. Throws lipsyncd::Error "input_not_decodable" when ffprobe
// cannot read it or it has no duration.
MediaInfo probe_media(const std::filesystem::path& file);

// fal's rule for the output length: cut_off → min(v, a); loop, bounce, silence → max(v, a);
// remap → a (the video is time-scaled to the audio).
double planned_output_duration(SyncMode mode, double video_s, double audio_s);

// Renders `output` from the video of `video` and the audio of `audio`. `scratch_dir` receives
// intermediate files (bounce clips). Throws lipsyncd::Error "input_not_decodable" (no video or
// audio stream) or "render_failed" (ffmpeg failed; its output is in the message).
// Returns the planned duration in seconds.
double render_lipsync_output(const std::filesystem::path& video, const std::filesystem::path& audio,
                             SyncMode mode, const std::filesystem::path& output,
                             const std::filesystem::path& scratch_dir);

}  // namespace lipsyncd::emulator
