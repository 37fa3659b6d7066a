#include "face_second_look.hpp"

#include <opencv2/core.hpp>
#include <string>

#include "frame_sampler.hpp"
#include "libav_handles.hpp"

namespace lipsyncd::media {
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

}  // namespace

// Either cause gets its own reason or sentence, because the fix differs.
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

}  // namespace lipsyncd::media
