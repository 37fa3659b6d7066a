#pragma once
// The stitcher's audio: the original track encoded to AAC, or copied when it already is.
// Private to src/media.

#include <filesystem>
#include <memory>

#include "output_file.hpp"

namespace lipsyncd::media {

// The audio stream of the output, written in step with the video (up to the time of each video
// packet) so the file is interleaved without the muxer buffering either stream.
class AudioTrack {
 public:
  virtual ~AudioTrack() = default;
  // Writes the audio up to `seconds` of the timeline (or its end).
  virtual void write_until(double seconds) = 0;
  virtual void finish() = 0;
};

// Adds the audio stream to `output` (before its header): an AAC track (encode_audio_track()'s
// output) is copied, anything else encoded to AAC; either is cut at length_s.
std::unique_ptr<AudioTrack> audio_track(const std::filesystem::path& audio, OutputFile& output,
                                        double length_s);

}  // namespace lipsyncd::media
