#include "frame_sampler.hpp"

#include <algorithm>
#include <cmath>

#include "lipsyncd/core/error.hpp"

namespace lipsyncd::media {

FrameSampler::FrameSampler(const std::filesystem::path& file, int stream_index)
    : decoder_(file, AVMEDIA_TYPE_VIDEO, 1, stream_index), keyframes_(decoder_.keyframe_seconds()) {
  // Reaching a frame between keyframes means decoding every frame before it; frames no
  // other frame refers to (most B-frames) can be skipped on the way. A sample may then land
  // a frame or two later than asked, which changes nothing about the faces in it.
  decoder_.codec()->skip_frame = AVDISCARD_NONREF;
  const AVRational rate = decoder_.stream()->avg_frame_rate;
  frame_s_ = rate.num > 0 && rate.den > 0 ? av_q2d(av_inv_q(rate)) : 1.0 / 30;
}

VideoStreamInfo FrameSampler::geometry() const {
  VideoStreamInfo info;
  info.width = decoder_.stream()->codecpar->width;
  info.height = decoder_.stream()->codecpar->height;
  return info;
}

double FrameSampler::cost_to_reach(double wanted, double slack) const {
  if (keyframes_.empty() || keyframe_near(wanted, slack)) return 0;
  if (can_decode_forward_to(wanted)) return wanted - position_;
  double keyframe_before = 0;
  for (double keyframe : keyframes_) {
    if (keyframe <= wanted + frame_s_ / 2) keyframe_before = keyframe;
  }
  return wanted - keyframe_before;
}

const AVFrame* FrameSampler::frame_near(double wanted, double slack) {
  const std::optional<double> keyframe = keyframe_near(wanted, slack);
  if (keyframe) {
    // Index times are decoding times, a few frames before the keyframe's presentation time;
    // seeking a little past them lands on that keyframe, not on the one before.
    decoder_.seek(*keyframe + 4 * frame_s_);
    if (const AVFrame* frame = decoder_.next_frame()) {
      position_ = last_returned_ = decoder_.frame_seconds(frame);
      return frame;
    }
    return nullptr;
  }
  if (!can_decode_forward_to(wanted)) {
    decoder_.seek(wanted);
    position_ = -std::numeric_limits<double>::infinity();
  }
  while (const AVFrame* frame = decoder_.next_frame()) {
    position_ = decoder_.frame_seconds(frame);
    if (position_ >= wanted - frame_s_ / 2) {
      last_returned_ = position_;
      return frame;
    }
  }
  return nullptr;
}

std::optional<double> FrameSampler::keyframe_near(double wanted, double slack) const {
  std::optional<double> best;
  double best_distance = slack;
  for (double keyframe : keyframes_) {
    const double distance = std::fabs(keyframe - wanted);
    if (distance <= best_distance && keyframe > last_returned_ + frame_s_) {
      best = keyframe;
      best_distance = distance;
    }
  }
  return best;
}

bool FrameSampler::can_decode_forward_to(double aim) const {
  if (!(position_ < aim)) return false;
  if (keyframes_.empty()) return aim - position_ < 2.0;  // no index: seeking is a guess
  double keyframe_before = -1;
  for (double keyframe : keyframes_) {
    if (keyframe <= aim + frame_s_ / 2) keyframe_before = keyframe;
  }
  return keyframe_before <= position_;
}

PictureMaker::PictureMaker(const VideoStreamInfo& video, int longer_side, bool color)
    : rotation_(video.rotation), color_(color) {
  const int width = std::max(1, video.display_width());
  const int height = std::max(1, video.display_height());
  const double scale = std::min(1.0, static_cast<double>(longer_side) / std::max(width, height));
  display_width_ = std::max(2, static_cast<int>(std::lround(width * scale)));
  display_height_ = std::max(2, static_cast<int>(std::lround(height * scale)));
}

cv::Mat PictureMaker::make(const AVFrame* frame) {
  const bool turned = rotation_ % 180 != 0;
  const int width = turned ? display_height_ : display_width_;
  const int height = turned ? display_width_ : display_height_;
  sws_.reset(sws_getCachedContext(
      sws_.release(), frame->width, frame->height, static_cast<AVPixelFormat>(frame->format), width,
      height, color_ ? AV_PIX_FMT_BGR24 : AV_PIX_FMT_GRAY8, SWS_AREA, nullptr, nullptr, nullptr));
  if (!sws_) throw Error("not_decodable", "cannot convert a video frame for face detection.");
  cv::Mat picture(height, width, color_ ? CV_8UC3 : CV_8UC1);
  uint8_t* planes[4] = {picture.data, nullptr, nullptr, nullptr};
  int strides[4] = {static_cast<int>(picture.step[0]), 0, 0, 0};
  sws_scale(sws_.get(), frame->data, frame->linesize, 0, frame->height, planes, strides);
  if (rotation_ == 90) cv::rotate(picture, picture, cv::ROTATE_90_CLOCKWISE);
  if (rotation_ == 180) cv::rotate(picture, picture, cv::ROTATE_180);
  if (rotation_ == 270) cv::rotate(picture, picture, cv::ROTATE_90_COUNTERCLOCKWISE);
  return picture;
}

}  // namespace lipsyncd::media
