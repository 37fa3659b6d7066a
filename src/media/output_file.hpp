#pragma once
// Where the normalizer writes: an MP4 or WAV muxer on an AtomicFile, so the destination only
// ever appears complete, and the encoders it needs. Private to src/media.

#include <filesystem>

#include "libav_handles.hpp"
#include "lipsyncd/core/atomic_file.hpp"

namespace lipsyncd::media {

// An MP4 or WAV muxer writing to the AtomicFile's temporary name. Errors are disk_error.
class OutputFile {
 public:
  OutputFile(const std::filesystem::path& destination, const char* format_name);

  AVFormatContext* context() const { return context_.get(); }
  AVStream* add_stream();
  // faststart: the MP4 index goes to the front, so fal (and players) can stream the file.
  void write_header(bool faststart);
  void write(AVPacket* packet);
  // Writes the trailer and renames the file into place.
  void finish();

 private:
  AtomicFile atomic_;  // destroyed last: removes the temporary file unless committed
  libav::OutputFormat context_;
};

// Throws encoder_missing when libavcodec lacks the encoder.
const AVCodec* find_encoder(const char* name);

}  // namespace lipsyncd::media
