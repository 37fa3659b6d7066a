#pragma once
// The stitcher's checks and the AAC track it writes. Private to src/media.

#include <filesystem>
#include <string>
#include <vector>

#include "lipsyncd/media/stitch.hpp"

namespace lipsyncd::media {

// Throws Error stitch_check_failed (permanent) with `message`.
[[noreturn]] void stitch_check_failed(std::string message, std::string hint = {});

// What the stitcher wrote, for the checks to compare with the plan.
struct StitchedLayout {
  std::vector<double> planned_durations_s;
  std::vector<long> first_frames;  // index (presentation order) of each segment's first frame
  double expected_duration_s = 0;
};

// Reads `file` once, decoding every video packet, and checks its duration, that it decodes end
// to end, the audio/video offset at each seam and that the audio covers the video.
StitchResult check_stitched(const std::filesystem::path& file, const StitchedLayout& layout);

}  // namespace lipsyncd::media
