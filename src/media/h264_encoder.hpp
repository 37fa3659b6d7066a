#pragma once
// libx264 with the normalizer's settings ([media] x264_preset, x264_crf) feeding one stream of an
// OutputFile, and the scaler that brings any decoded picture to the encoder's size and yuv420p.
// Shared by the normalizer's transcode, the video extender and the stitcher's re-encode, so every
// H.264 this daemon writes is made the same way. Private to src/media.

#include <filesystem>
#include <functional>

#include "libav_handles.hpp"
#include "lipsyncd/config/config.hpp"
#include "output_file.hpp"

namespace lipsyncd::media {

struct H264Settings {
  int width = 0;
  int height = 0;
  AVRational frame_rate{30, 1};
  AVRational time_base{1, 30};  // of the frames' pts
};

class H264Encoder {
 public:
  // Where packets go; by default straight to the OutputFile (the stitcher interleaves audio).
  using PacketSink = std::function<void(AVPacket*)>;

  // Adds its stream to `output`, which must not have written its header yet. `source` names the
  // input in error messages. Throws encoder_missing.
  H264Encoder(OutputFile& output, const H264Settings& settings, const MediaConfig& config,
              const std::filesystem::path& source);

  void set_sink(PacketSink sink) { sink_ = std::move(sink); }
  AVStream* stream() const { return stream_; }
  // Encodes a yuv420p frame of the encoder's size whose pts is in the settings' time base. The
  // frame's picture type is ignored, so a decoded I frame does not force a keyframe.
  void encode(AVFrame* frame);
  // Drains the encoder; call once after the last frame.
  void flush();
  long frames() const { return frames_; }

 private:
  void send(const AVFrame* frame);

  OutputFile& output_;
  std::filesystem::path source_;
  libav::CodecContext encoder_;
  AVStream* stream_ = nullptr;  // owned by output_
  libav::Packet packet_ = libav::make_packet();
  PacketSink sink_;
  long frames_ = 0;
};

// Converts decoded pictures to width x height yuv420p (bicubic), passing through those that
// already are. The returned frame is owned by the converter and valid until the next call.
class PictureConverter {
 public:
  PictureConverter(int width, int height) : width_(width), height_(height) {}
  AVFrame* convert(AVFrame* frame, const std::filesystem::path& source);

 private:
  int width_;
  int height_;
  libav::Sws scaler_;
  libav::Frame converted_ = libav::make_frame();
};

}  // namespace lipsyncd::media
