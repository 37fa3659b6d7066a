#include "lipsyncd/media/face_check.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <opencv2/core.hpp>
#include <vector>

#include "face_detector.hpp"
#include "face_second_look.hpp"
#include "frame_sampler.hpp"
#include "lipsyncd/core/error.hpp"
#include "lipsyncd/media/media_info.hpp"

namespace lipsyncd::media {
namespace {

// When nothing is found at detect_width, a few samples are looked at again this much larger,
// to tell "no face" from "a face too small for the model".
constexpr int kFineScanScale = 3;
constexpr int kFineScanSamples = 3;
// A face the second look finds is "too small" only if, scaled back to detect_size, it is
// below this height: the Haar cascade's smallest window is 24 px, and the SSD, which squeezes
// the whole picture into 300x300, sees faces from about 30 px there (48 px of a 480 px side).
// A larger face that the first look missed was missed for another reason: the SSD, unlike
// the cascade, also finds faces lying on their side in the second look's tiles, and such a
// clip must get face_sideways, not "too small" (see explain_a_missing_face()).
constexpr double kLargestFaceMissedForSizePx = 48;
// A sample may cost at most this much decoding past a keyframe (see check_faces()).
constexpr double kMaxDecodeAheadS = 1.0;

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

// The verdict, from the counts: the first failed rule names the reason.
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
  } else if (report.max_faces > 1) {
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
  if (span.duration_s <= 0) span = {0, video_seconds(video)};
  const std::vector<double> times = sample_times(span, frame_s, config);
  const double slack = span.duration_s / static_cast<double>(times.size()) / 2;

  PictureMaker picture_maker(*video.video, config.detect_size, detector.wants_color());
  std::vector<double> face_heights;
  // Long clips with far-apart keyframes (x264's default: one every 8-10 s) would otherwise
  // be decoded almost whole, single-threaded: dearer than the full decode the face check is
  // meant to avoid. A sample that needs more than kMaxDecodeAheadS of decoding is skipped,
  // but never more than the share that keeps min_samples, and spread evenly over the span
  // (skipping all the early ones would judge the clip by its end).
  const double skippable =
      1.0 - static_cast<double>(config.min_samples) / static_cast<double>(times.size());
  for (size_t i = 0; i < times.size(); ++i) {
    const double time = times[i];
    const bool may_skip =
        report.samples_skipped + 1 <= skippable * static_cast<double>(i + 1) + 1e-9;
    if (may_skip && sampler.cost_to_reach(time, slack) > kMaxDecodeAheadS) {
      ++report.samples_skipped;
      continue;
    }
    const AVFrame* frame = sampler.frame_near(time, slack);
    if (frame == nullptr) break;
    const cv::Mat picture = picture_maker.make(frame);
    const std::vector<Detection> found = detector.detect(picture);
    std::vector<FaceBox> boxes;
    for (const Detection& d : found) {
      boxes.push_back({d.box.x, d.box.y, d.box.width, d.box.height, d.strength});
    }
    report.max_detections = std::max(report.max_detections, static_cast<int>(boxes.size()));
    const std::vector<FaceBox> faces = distinct_faces(std::move(boxes));
    ++report.samples;
    report.faces_per_sample.push_back(static_cast<int>(faces.size()));
    if (faces.empty()) continue;
    ++report.samples_with_face;
    if (faces.size() > 1) ++report.samples_with_several_faces;
    face_heights.push_back(static_cast<double>(faces.front().height) / picture.rows);
  }
  report.max_faces = faces_in_clip(report.faces_per_sample);

  const int fine_size = config.detect_size * kFineScanScale;
  if (report.samples_with_face == 0 && report.samples > 0 &&
      std::max(video.video->display_width(), video.video->display_height()) > config.detect_size) {
    // Small faces vanish when the frame is shrunk; a look at more pixels tells them apart.
    FrameSampler fine_sampler(video.file);
    PictureMaker fine_maker(*video.video, fine_size, detector.wants_color());
    const int count = std::min(kFineScanSamples, report.samples);
    int found = 0;
    std::vector<double> tallest_px;
    for (int i = 0; i < count; ++i) {
      const double time = span.start_s + (i + 0.5) * span.duration_s / count;
      const AVFrame* frame = fine_sampler.frame_near(time, span.duration_s / count / 2);
      if (frame == nullptr) break;
      const cv::Mat picture = fine_maker.make(frame);
      // Frontal only: a face too small to be seen is rarely seen from the side either.
      const std::vector<Detection> faces = detector.detect(picture, false);
      if (faces.empty()) continue;
      ++found;
      int tallest = 0;
      for (const Detection& face : faces) tallest = std::max(tallest, face.box.height);
      face_heights.push_back(static_cast<double>(tallest) / picture.rows);
      tallest_px.push_back(tallest);
    }
    // One hit may be a texture that looks like a face; a small face shows up every time.
    report.seen_only_at_full_resolution =
        found >= 2 && median(tallest_px) / kFineScanScale < kLargestFaceMissedForSizePx;
    if (report.seen_only_at_full_resolution) report.samples_with_face = 0;
    if (!report.seen_only_at_full_resolution) face_heights.clear();
  }

  if (report.samples > 0) {
    report.visible_ratio = static_cast<double>(report.samples_with_face) / report.samples;
  }
  report.median_face_height_ratio = median(face_heights);
  judge(report, config);
  if (!report.seen_only_at_full_resolution) {
    explain_a_missing_face(report, video, span, detector, config);
  }
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
