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
#include "lipsyncd/media/media_info.hpp"
#include "stream_decoder.hpp"

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

// Hands out frames at given times, cheaply: a wanted time snaps to a keyframe within half a
// sample interval (decoding a keyframe costs one frame; reaching an arbitrary frame costs up
// to a whole group of pictures), and decoding goes forward without seeking when that is
// shorter.
class FrameSampler {
 public:
  explicit FrameSampler(const std::filesystem::path& file, int stream_index = -1)
      : decoder_(file, AVMEDIA_TYPE_VIDEO, 1, stream_index),
        keyframes_(decoder_.keyframe_seconds()) {
    // Reaching a frame between keyframes means decoding every frame before it; frames no
    // other frame refers to (most B-frames) can be skipped on the way. A sample may then land
    // a frame or two later than asked, which changes nothing about the faces in it.
    decoder_.codec()->skip_frame = AVDISCARD_NONREF;
    const AVRational rate = decoder_.stream()->avg_frame_rate;
    frame_s_ = rate.num > 0 && rate.den > 0 ? av_q2d(av_inv_q(rate)) : 1.0 / 30;
  }

  // The stored picture size of the stream (for a stream probe() did not describe).
  VideoStreamInfo geometry() const {
    VideoStreamInfo info;
    info.width = decoder_.stream()->codecpar->width;
    info.height = decoder_.stream()->codecpar->height;
    return info;
  }

  // Seconds of video to decode before the frame at `wanted` could be had: 0 when a keyframe
  // lies within `slack`, else the way from the decoder's position or from the keyframe
  // before. Unknown (no index) counts as cheap: seeking is all there is.
  double cost_to_reach(double wanted, double slack) const {
    if (keyframes_.empty() || keyframe_near(wanted, slack)) return 0;
    if (can_decode_forward_to(wanted)) return wanted - position_;
    double keyframe_before = 0;
    for (double keyframe : keyframes_) {
      if (keyframe <= wanted + frame_s_ / 2) keyframe_before = keyframe;
    }
    return wanted - keyframe_before;
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

// Scales (and converts) a decoded frame to an upright 8-bit picture whose longer side is at
// most `longer_side`, square pixels. Scaling by the longer side keeps the detector's work
// (it grows with the pixel count) the same for a portrait clip as for a landscape one.
class PictureMaker {
 public:
  PictureMaker(const VideoStreamInfo& video, int longer_side, bool color)
      : rotation_(video.rotation), color_(color) {
    const int width = std::max(1, video.display_width());
    const int height = std::max(1, video.display_height());
    const double scale = std::min(1.0, static_cast<double>(longer_side) / std::max(width, height));
    display_width_ = std::max(2, static_cast<int>(std::lround(width * scale)));
    display_height_ = std::max(2, static_cast<int>(std::lround(height * scale)));
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

}  // namespace

// Counting faces as a person does. A Haar cascade fires more than once on one face (a box on
// the face and one on the chin or forehead), on textures (hair, a painting's background,
// compression blocks) and, rarely, on a real face far in the background. On the real
// single-speaker clips of ../shared/media it reported up to 3 faces, in up to half the
// samples. Three rules, in order, each needed on that corpus (see test_media_face_count.cpp):
//  1. Within a sample, a box that overlaps a larger one by kSameFaceOverlap of its own area is
//     the same face seen twice (non-maximum suppression). The cascade's boxes are tight on
//     eyes, nose and mouth, so two people's boxes do not overlap even when their heads touch,
//     while the phantoms beside a face overlapped it by 10-17% (real_talk_retalk1.mp4,
//     pair_a2x_video.mp4): any real overlap means one face.
//  2. A further face counts only when it is at least kMinRelativeFaceHeight of the main face's
//     height. Two people side by side at a similar distance measure within 30% of each other
//     (two_faces.mp4: 0.82-0.88); the cascade's phantoms beside a real face measured 0.63-0.68
//     of it (the same clips: rules 1 and 2 each remove them). A far smaller face is
//     background: not a competing speaker, and not the face the model picks.
//  3. The clip shows n faces only when at least kSeveralFacesShare of the samples with a face,
//     and at least two samples, show n or more: a real second speaker stays in the picture,
//     a phantom comes and goes. Two real speakers side by side pass all three in every sample.
namespace {
constexpr double kSameFaceOverlap = 0.05;
constexpr double kMinRelativeFaceHeight = 0.7;
constexpr double kSeveralFacesShare = 0.25;

int overlap_area(const FaceBox& a, const FaceBox& b) {
  const int width = std::min(a.x + a.width, b.x + b.width) - std::max(a.x, b.x);
  const int height = std::min(a.y + a.height, b.y + b.height) - std::max(a.y, b.y);
  return width > 0 && height > 0 ? width * height : 0;
}
}  // namespace

std::vector<FaceBox> distinct_faces(std::vector<FaceBox> boxes) {
  std::sort(boxes.begin(), boxes.end(), [](const FaceBox& a, const FaceBox& b) {
    return a.width * a.height > b.width * b.height;
  });
  std::vector<FaceBox> kept;
  for (const FaceBox& box : boxes) {
    if (!kept.empty() && box.height < kMinRelativeFaceHeight * kept.front().height) continue;
    const bool seen = std::any_of(kept.begin(), kept.end(), [&](const FaceBox& larger) {
      return overlap_area(box, larger) >= kSameFaceOverlap * box.width * box.height;
    });
    if (!seen) kept.push_back(box);
  }
  return kept;
}

int faces_in_clip(const std::vector<int>& faces_per_sample) {
  const auto with_face = std::count_if(faces_per_sample.begin(), faces_per_sample.end(),
                                       [](int faces) { return faces > 0; });
  if (with_face == 0) return 0;
  const double needed = std::max(std::min(2.0, static_cast<double>(with_face)),
                                 std::ceil(kSeveralFacesShare * static_cast<double>(with_face)));
  int counted = 1;
  for (int faces = 2;; ++faces) {
    const auto showing = std::count_if(faces_per_sample.begin(), faces_per_sample.end(),
                                       [faces](int n) { return n >= faces; });
    if (static_cast<double>(showing) < needed) break;
    counted = faces;
  }
  return counted;
}

namespace {

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

namespace {

// A second look, only at clips that failed: a few samples, frontal faces only.
constexpr int kSecondLookSamples = 3;

// How many of kSecondLookSamples evenly spread over `span` show a frontal face, looking at
// `stream_index` (-1: the shown stream), the upright picture turned further by `turn`
// (a cv::RotateFlags value, or -1 for none).
int frontal_faces_found(const std::filesystem::path& file, int stream_index,
                        const VideoStreamInfo* geometry, TimeSpan span, int turn,
                        FaceDetector& detector, int detect_size) {
  FrameSampler sampler(file, stream_index);
  const VideoStreamInfo own = geometry != nullptr ? *geometry : sampler.geometry();
  PictureMaker maker(own, detect_size, detector.wants_color());
  int found = 0;
  for (int i = 0; i < kSecondLookSamples; ++i) {
    const double time = span.start_s + (i + 0.5) * span.duration_s / kSecondLookSamples;
    const AVFrame* frame = sampler.frame_near(time, span.duration_s / kSecondLookSamples / 2);
    if (frame == nullptr) break;
    cv::Mat picture = maker.make(frame);
    if (turn >= 0) cv::rotate(picture, picture, turn);
    if (!detector.detect(picture, false).empty()) ++found;
  }
  return found;
}

// A phone clip that lost its rotation tag shows its speaker lying on the side: the face is
// found once the picture is turned a quarter. Returns "clockwise", "counter-clockwise" or "".
std::string turn_that_shows_the_face(const MediaInfo& video, TimeSpan span, FaceDetector& detector,
                                     int detect_size) {
  // Most samples, not one: a lucky texture must not send a user rotating a good clip.
  const int needed = kSecondLookSamples / 2 + 1;
  if (frontal_faces_found(video.file, -1, &*video.video, span, cv::ROTATE_90_CLOCKWISE, detector,
                          detect_size) >= needed) {
    return "clockwise";
  }
  if (frontal_faces_found(video.file, -1, &*video.video, span, cv::ROTATE_90_COUNTERCLOCKWISE,
                          detector, detect_size) >= needed) {
    return "counter-clockwise";
  }
  return "";
}

// The first other video stream that shows a face, or -1.
int other_stream_with_a_face(const MediaInfo& video, TimeSpan span, FaceDetector& detector,
                             int detect_size) {
  libav::InputFormat format = open_input(video.file);
  for (unsigned i = 0; i < format->nb_streams; ++i) {
    const AVStream* stream = format->streams[i];
    if (static_cast<int>(i) == video.video->stream_index ||
        stream->codecpar->codec_type != AVMEDIA_TYPE_VIDEO ||
        (stream->disposition & AV_DISPOSITION_ATTACHED_PIC) != 0) {
      continue;
    }
    if (frontal_faces_found(video.file, static_cast<int>(i), nullptr, span, -1, detector,
                            detect_size) > 0) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

// When no face (or too little of one) was found: is it lying on its side, or in another
// video stream? Either gets its own reason or sentence, because the fix differs.
void explain_a_missing_face(FaceReport& report, const MediaInfo& video, TimeSpan span,
                            FaceDetector& detector, const FaceConfig& config) {
  if (report.reason_code != "no_face" && report.reason_code != "face_not_visible_enough") return;
  if (video.video->rotation == 0) {
    const std::string turn = turn_that_shows_the_face(video, span, detector, config.detect_size);
    if (!turn.empty()) {
      report.reason_code = "face_sideways";
      report.sideways_turn = turn;
      report.message =
          "the speaker's face lies on its side: it is found only when the picture "
          "is turned 90 degrees " +
          turn +
          ". The clip probably lost its rotation tag (phones record sideways and "
          "tag the turn).";
      return;
    }
  }
  if (video.video->other_video_streams > 0) {
    const int other = other_stream_with_a_face(video, span, detector, config.detect_size);
    if (other >= 0) {
      report.face_in_other_stream = other;
      report.message += " Video stream #" + std::to_string(video.video->stream_index) +
                        " was checked because players show it; stream #" + std::to_string(other) +
                        " shows a face.";
    }
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
