#pragma once
// Decodes one stream (the shown video stream, or the best audio stream) of a file frame by frame,
// with seeking. Used by the face check (sparse frames), the normalizer and the loudness meter, so
// opening, decoding and error handling live in one place. Not thread-safe; one per task.

#include <filesystem>
#include <vector>

#include "libav_handles.hpp"

namespace lipsyncd::media {

class StreamDecoder {
 public:
  // threads: 0 lets libavcodec choose; 1 keeps the decoder on the calling thread.
  // stream_index: a given stream of that type instead of the shown or best one.
  StreamDecoder(const std::filesystem::path& file, AVMediaType type, int threads,
                int stream_index = -1);

  AVFormatContext* format() const { return format_.get(); }
  AVStream* stream() const { return stream_; }
  AVCodecContext* codec() const { return codec_.get(); }

  // The next decoded frame (owned by the decoder, valid until the next call), or nullptr at
  // the end of the stream. Throws Error not_decodable when nothing at all can be decoded.
  AVFrame* next_frame();
  // Jumps to the keyframe at or before `seconds`; the next frames start there.
  void seek(double seconds);

  double seconds(int64_t timestamp) const;
  int64_t timestamp(double seconds) const;
  // Presentation time of a frame from next_frame(), in seconds from the stream's start.
  double frame_seconds(const AVFrame* frame) const;
  // Keyframe times from the container's index (empty when the container has none).
  std::vector<double> keyframe_seconds() const;

 private:
  bool feed_packet();

  std::filesystem::path file_;
  libav::InputFormat format_;
  AVStream* stream_ = nullptr;
  libav::CodecContext codec_;
  libav::Packet packet_ = libav::make_packet();
  libav::Frame frame_ = libav::make_frame();
  bool draining_ = false;
  int decode_errors_ = 0;
  long frames_decoded_ = 0;
};

// Presentation times (seconds from the stream's start, ascending) of the keyframes of the shown
// video stream that begin a closed GOP (nothing decoded after them is shown before them), read
// from its packets (no decoding): where the stream can be cut without a re-encode. Unlike
// keyframe_seconds() these are exact when B-frames shift decoding times from presentation.
std::vector<double> keyframe_presentation_seconds(const std::filesystem::path& file);

// A converter from the decoder's sample format to packed float at its own rate and channel
// layout, so one loop can measure every format; Error not_decodable when libav cannot.
libav::Swr packed_float_converter(AVCodecContext* codec, const std::filesystem::path& file);

// Opens a file for reading with content sniffing; Error not_decodable when libav cannot.
libav::InputFormat open_input(const std::filesystem::path& file);

// The video stream a player shows: the one with the default disposition, else the first
// (cover art excluded); -1 when there is none. libav's "best" stream is the largest one,
// which is how a test pattern in stream 1 once hid the talking face in stream 0.
int shown_video_stream(const AVFormatContext* format);

}  // namespace lipsyncd::media
