#pragma once
// The face check's pictures: frames at chosen times, had cheaply (FrameSampler), turned into
// upright, downscaled pictures for a detector (PictureMaker). Private to src/media.

#include <filesystem>
#include <limits>
#include <opencv2/core.hpp>
#include <optional>
#include <vector>

#include "libav_handles.hpp"
#include "lipsyncd/media/media_info.hpp"
#include "stream_decoder.hpp"

namespace lipsyncd::media {

// Hands out frames at given times, cheaply: a wanted time snaps to a keyframe within half a
// sample interval (decoding a keyframe costs one frame; reaching an arbitrary frame costs up
// to a whole group of pictures), and decoding goes forward without seeking when that is
// shorter.
class FrameSampler {
 public:
  explicit FrameSampler(const std::filesystem::path& file, int stream_index = -1);

  // The stored picture size of the stream (for a stream probe() did not describe).
  VideoStreamInfo geometry() const;

  // Seconds of video to decode before the frame at `wanted` could be had: 0 when a keyframe
  // lies within `slack`, else the way from the decoder's position or from the keyframe
  // before. Unknown (no index) counts as cheap: seeking is all there is.
  double cost_to_reach(double wanted, double slack) const;

  // The frame shown at `wanted`, or nullptr past the end. The frame lives until the next call.
  const AVFrame* frame_near(double wanted, double slack);

 private:
  std::optional<double> keyframe_near(double wanted, double slack) const;
  bool can_decode_forward_to(double aim) const;

  StreamDecoder decoder_;
  std::vector<double> keyframes_;
  double frame_s_ = 1.0 / 30;
  double position_ = -std::numeric_limits<double>::infinity();
  double last_returned_ = -std::numeric_limits<double>::infinity();
};

// Scales (and converts) a decoded frame to an upright 8-bit picture whose longer side is at
// most `longer_side`, square pixels. Scaling by the longer side keeps the detector's work
// (it grows with the pixel count) the same for a portrait clip as for a landscape one.
class PictureMaker {
 public:
  PictureMaker(const VideoStreamInfo& video, int longer_side, bool color);

  cv::Mat make(const AVFrame* frame);

 private:
  int rotation_;
  bool color_;
  int display_width_ = 0;
  int display_height_ = 0;
  libav::Sws sws_;
};

}  // namespace lipsyncd::media
