#pragma once
// Where a video can be cut without re-encoding: the times of its keyframes.

#include <vector>

#include "lipsyncd/media/media_info.hpp"

namespace lipsyncd::media {

// The presentation times of the keyframes of the shown video stream of `info.file` (probed by
// probe()), in seconds from the stream's start as StreamDecoder counts them, ascending. Reads
// every packet's flags once, decodes nothing. Empty when there is no video stream. Throws
// Error not_decodable when the file cannot be opened.
std::vector<double> keyframe_times(const MediaInfo& info);

}  // namespace lipsyncd::media
