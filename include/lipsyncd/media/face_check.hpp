#pragma once
// Is one face visible, large enough, in enough of the span that will be uploaded? Samples
// frames evenly over the span by SEEKING (never decodes the whole clip), applies the display
// rotation, downscales to FaceConfig::detect_width and runs OpenCV's Haar cascades (frontal,
// profile as a fallback) or cv::FaceDetectorYN when FaceConfig::dnn_model names a model.
// Synchronous and CPU-bound (one core): run it on the daemon's bounded CPU pool. Thread-safe
// (detectors are per thread).

#include <string>

#include "lipsyncd/config/config.hpp"
#include "lipsyncd/media/media_info.hpp"

namespace lipsyncd::media {

struct FaceReport {
  int samples = 0;  // frames examined
  int samples_with_face = 0;
  int samples_with_several_faces = 0;
  double visible_ratio = 0;                   // samples_with_face / samples
  double median_face_height_ratio = 0;        // largest face's height / frame height, median over
                                              // the samples that show a face
  int max_faces = 0;                          // most faces seen in one sample
  bool seen_only_at_full_resolution = false;  // faces too small for detect_width
  std::string detector;                       // "haar" or "yunet"

  // "" when the face check passes; else no_face, face_not_visible_enough, face_too_small or
  // multiple_faces (a warning unless FaceConfig::multiple_faces is "reject").
  std::string reason_code;
  std::string message;      // one sentence a person can act on ("" when fine)
  bool is_warning = false;  // reason_code is only a warning (several faces)
};

// Examines `span` of `video` (probed by probe()). Throws lipsyncd::Error when the video cannot
// be decoded (not_decodable) or the detector's model is missing (face_detector_missing).
FaceReport check_faces(const MediaInfo& video, TimeSpan span, const FaceConfig& config);

}  // namespace lipsyncd::media
