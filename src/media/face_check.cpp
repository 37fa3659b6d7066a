#include "lipsyncd/media/face_check.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <opencv2/core.hpp>
#include <optional>
#include <vector>

#include "face_detector.hpp"
#include "libav_handles.hpp"
#include "lipsyncd/core/error.hpp"
#include "stream_decoder.hpp"

namespace lipsyncd::media {
namespace {

// When nothing is found at detect_width, a few samples are looked at again this much larger,
// to tell "no face" from "a face too small for the model".
constexpr int kFineScanScale = 3;
constexpr int kFineScanSamples = 3;
// Several faces count when they show in at least this share of the samples with a face; one
// stray detection in a long clip is not a second speaker.
constexpr double kSeveralFacesShare = 0.25;

// Hands out frames at given times, cheaply: a wanted time snaps to a keyframe within half a
// sample interval (decoding a keyframe costs one frame; reaching an arbitrary frame costs up
// to a whole group of pictures), and decoding goes forward without seeking when that is
// shorter.
class FrameSampler {
 public:
  explicit FrameSampler(const std::filesystem::path& file)
      : decoder_(file, AVMEDIA_TYPE_VIDEO, 1), keyframes_(decoder_.keyframe_seconds()) {
    const AVRational rate = decoder_.stream()->avg_frame_rate;
    frame_s_ = rate.num > 0 && rate.den > 0 ? av_q2d(av_inv_q(rate)) : 1.0 / 30;
  }

  // The frame shown at `wanted`, or nullptr past the end. The frame lives until the next call.
  const AVFrame* frame_near(double wanted, double slack) {
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

 private:
  std::optional<double> keyframe_near(double wanted, double slack) const {
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

  bool can_decode_forward_to(double aim) const {
    if (!(position_ < aim)) return false;
    if (keyframes_.empty()) return aim - position_ < 2.0;  // no index: seeking is a guess
    double keyframe_before = -1;
    for (double keyframe : keyframes_) {
      if (keyframe <= aim + frame_s_ / 2) keyframe_before = keyframe;
    }
    return keyframe_before <= position_;
  }

  StreamDecoder decoder_;
  std::vector<double> keyframes_;
  double frame_s_ = 1.0 / 30;
  double position_ = -std::numeric_limits<double>::infinity();
  double last_returned_ = -std::numeric_limits<double>::infinity();
};

// Scales (and converts) a decoded frame to an upright 8-bit picture of the given width.
class PictureMaker {
 public:
  PictureMaker(const VideoStreamInfo& video, int width, bool color)
      : rotation_(video.rotation), color_(color) {
    display_width_ = std::min(width, video.display_width());
    display_height_ = std::max(
        2, static_cast<int>(std::lround(static_cast<double>(video.display_height()) *
                                        display_width_ / std::max(1, video.display_width()))));
  }

  cv::Mat make(const AVFrame* frame) {
    const bool turned = rotation_ % 180 != 0;
    const int width = turned ? display_height_ : display_width_;
    const int height = turned ? display_width_ : display_height_;
    sws_.reset(sws_getCachedContext(sws_.release(), frame->width, frame->height,
                                    static_cast<AVPixelFormat>(frame->format), width, height,
                                    color_ ? AV_PIX_FMT_BGR24 : AV_PIX_FMT_GRAY8, SWS_AREA, nullptr,
                                    nullptr, nullptr));
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

 private:
  int rotation_;
  bool color_;
  int display_width_ = 0;
  int display_height_ = 0;
  libav::Sws sws_;
};

std::vector<double> sample_times(TimeSpan span, double frame_s, const FaceConfig& config) {
  const double wanted = std::round(span.duration_s * config.samples_per_second);
  const double frames = std::max(1.0, std::floor(span.duration_s / frame_s));
  int count = static_cast<int>(std::clamp(wanted, static_cast<double>(config.min_samples),
                                          static_cast<double>(config.max_samples)));
  count = std::max(1, std::min(count, static_cast<int>(frames)));
  std::vector<double> times;
  for (int i = 0; i < count; ++i) {
    times.push_back(span.start_s + (i + 0.5) * span.duration_s / count);
  }
  return times;
}

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t middle = values.size() / 2;
  return values.size() % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
}

std::string percent(double ratio) {
  char text[16];
  std::snprintf(text, sizeof text, "%.0f%%", ratio * 100);
  return text;
}

void judge(FaceReport& report, const FaceConfig& config) {
  if (report.samples_with_face == 0) {
    report.reason_code = "no_face";
    report.message = "no face was found in any of the " + std::to_string(report.samples) +
                     " sampled frames; the model needs a visible, front-facing speaker.";
  } else if (report.visible_ratio < config.min_visible_ratio) {
    report.reason_code = "face_not_visible_enough";
    report.message = "a face is visible in only " + percent(report.visible_ratio) +
                     " of the sampled frames (at least " + percent(config.min_visible_ratio) +
                     " needed); use a clip where the speaker stays in view.";
  } else if (report.median_face_height_ratio < config.min_face_height_ratio) {
    report.reason_code = "face_too_small";
    report.message = "the face is too small (" + percent(report.median_face_height_ratio) +
                     " of the frame height, at least " + percent(config.min_face_height_ratio) +
                     " needed); crop or zoom in so the face fills more of the frame.";
  } else if (report.max_faces > 1 &&
             report.samples_with_several_faces >=
                 std::max(1.0, kSeveralFacesShare * report.samples_with_face)) {
    report.reason_code = "multiple_faces";
    report.is_warning = config.multiple_faces != "reject";
    report.message = "up to " + std::to_string(report.max_faces) +
                     " faces are visible; the model works best with one speaker and may animate "
                     "the wrong face.";
  }
}

}  // namespace

FaceReport check_faces(const MediaInfo& video, TimeSpan span, const FaceConfig& config) {
  if (!video.video) {
    throw Error("no_video_stream", video.file.filename().string() + " has no video stream.",
                "use a video file that shows the speaker");
  }
  FaceDetector& detector = FaceDetector::for_this_thread(config);
  FaceReport report;
  report.detector = detector.name();

  FrameSampler sampler(video.file);
  const double frame_s = video.video->fps > 0 ? 1.0 / video.video->fps : 1.0 / 30;
  if (span.duration_s <= 0) span = {0, video.duration_s};
  const std::vector<double> times = sample_times(span, frame_s, config);
  const double slack = span.duration_s / static_cast<double>(times.size()) / 2;

  PictureMaker picture_maker(*video.video, config.detect_width, detector.wants_color());
  std::vector<double> face_heights;
  for (double time : times) {
    const AVFrame* frame = sampler.frame_near(time, slack);
    if (frame == nullptr) break;
    const cv::Mat picture = picture_maker.make(frame);
    const std::vector<cv::Rect> faces = detector.detect(picture);
    ++report.samples;
    if (faces.empty()) continue;
    ++report.samples_with_face;
    if (faces.size() > 1) ++report.samples_with_several_faces;
    report.max_faces = std::max(report.max_faces, static_cast<int>(faces.size()));
    int tallest = 0;
    for (const cv::Rect& face : faces) tallest = std::max(tallest, face.height);
    face_heights.push_back(static_cast<double>(tallest) / picture.rows);
  }

  const int fine_width = config.detect_width * kFineScanScale;
  if (report.samples_with_face == 0 && report.samples > 0 &&
      video.video->display_width() > config.detect_width) {
    // Small faces vanish when the frame is shrunk; a look at more pixels tells them apart.
    FrameSampler fine_sampler(video.file);
    PictureMaker fine_maker(*video.video, fine_width, detector.wants_color());
    const int count = std::min(kFineScanSamples, report.samples);
    int found = 0;
    for (int i = 0; i < count; ++i) {
      const double time = span.start_s + (i + 0.5) * span.duration_s / count;
      const AVFrame* frame = fine_sampler.frame_near(time, span.duration_s / count / 2);
      if (frame == nullptr) break;
      const cv::Mat picture = fine_maker.make(frame);
      // Frontal only: a face too small to be seen is rarely seen from the side either.
      const std::vector<cv::Rect> faces = detector.detect(picture, false);
      if (faces.empty()) continue;
      ++found;
      int tallest = 0;
      for (const cv::Rect& face : faces) tallest = std::max(tallest, face.height);
      face_heights.push_back(static_cast<double>(tallest) / picture.rows);
    }
    // One hit may be a texture that looks like a face; a small face shows up every time.
    report.seen_only_at_full_resolution = found >= 2;
    if (report.seen_only_at_full_resolution) report.samples_with_face = 0;
    if (!report.seen_only_at_full_resolution) face_heights.clear();
  }

  if (report.samples > 0) {
    report.visible_ratio = static_cast<double>(report.samples_with_face) / report.samples;
  }
  report.median_face_height_ratio = median(face_heights);
  judge(report, config);
  if (report.seen_only_at_full_resolution) {
    // judge() reads "no face" first; these faces exist but are too small.
    report.reason_code = "face_too_small";
    report.message = "the face is too small to be recognised (about " +
                     percent(report.median_face_height_ratio) +
                     " of the frame height); crop or zoom in so the face fills more of the frame.";
    report.is_warning = false;
  }
  return report;
}

}  // namespace lipsyncd::media
