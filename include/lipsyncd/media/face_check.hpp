#pragma once
// Is one face visible, large enough, in enough of the span that will be uploaded? Samples
// frames evenly over the span by SEEKING (never decodes the whole clip), applies the display
// rotation and pixel aspect ratio, downscales so the LONGER side is FaceConfig::detect_size
// (a portrait clip costs what a landscape one does) and runs the detector FaceConfig::detector
// names: OpenCV's Haar cascades (frontal, profile as a fallback) or OpenCV's ResNet-10 SSD.
// Either detector's boxes go through the same counting rule (distinct_faces, faces_in_clip).
// Synchronous and CPU-bound (one core): run it on the daemon's bounded CPU pool. Thread-safe
// (detectors are per thread).

#include <string>
#include <vector>

#include "lipsyncd/config/config.hpp"
#include "lipsyncd/media/media_info.hpp"

namespace lipsyncd::media {

// A detected face, in pixels of the picture it was found in, and the detector's confidence
// (Haar: neighbouring windows that agreed; SSD: score).
struct FaceBox {
  int x = 0;
  int y = 0;
  int width = 0;
  int height = 0;
  double strength = 0;
};

// The faces of one sample a person would count: overlapping boxes are one face, and a box much
// smaller than the main (largest) face is not a second speaker. See face_check.cpp for why.
std::vector<FaceBox> distinct_faces(std::vector<FaceBox> boxes);
// How many faces a clip shows, from the distinct faces of each sample: n faces only when n or
// more recur in enough samples (one stray detection is not a person). 0 when none shows one.
int faces_in_clip(const std::vector<int>& faces_per_sample);

// One row of the SSD's output: its confidence and its box in fractions (0..1) of the picture
// it was shown. Boxes may run past 0 or 1, or lie wholly outside the picture.
struct SsdOutput {
  float confidence = 0;
  float left = 0;
  float top = 0;
  float right = 0;
  float bottom = 0;
};
// The rows that are faces, as boxes in pixels of a `width` x `height` picture, clipped to it:
// confident enough, not degenerate, and mostly inside the picture (the model's "ghost" boxes
// beside a large face are clipped here and merged with that face by distinct_faces()).
std::vector<FaceBox> ssd_faces(const std::vector<SsdOutput>& rows, int width, int height);

struct FaceReport {
  int samples = 0;  // frames examined
  // Sample times passed over because reaching them meant decoding more than a second past a
  // keyframe (never so many that fewer than FaceConfig::min_samples are examined).
  int samples_skipped = 0;
  int samples_with_face = 0;
  int samples_with_several_faces = 0;   // samples with 2+ distinct faces
  double visible_ratio = 0;             // samples_with_face / samples
  double median_face_height_ratio = 0;  // largest face's height / frame height, median over
                                        // the samples that show a face
  int max_faces = 0;                  // faces in the clip as a person counts them (faces_in_clip())
  int max_detections = 0;             // most raw detector boxes in one sample, before counting
  std::vector<int> faces_per_sample;  // distinct faces, one entry per sample
  bool seen_only_at_full_resolution = false;  // faces too small for detect_size
  std::string detector;                       // "haar" or "ssd"

  // "" when the face check passes; else no_face, face_not_visible_enough, face_too_small,
  // face_sideways (found only when the picture is turned a quarter: a lost rotation tag) or
  // multiple_faces (a warning unless FaceConfig::multiple_faces is "reject").
  std::string reason_code;
  std::string message;            // one sentence a person can act on ("" when fine)
  bool is_warning = false;        // reason_code is only a warning (several faces)
  std::string sideways_turn;      // face_sideways: "clockwise" or "counter-clockwise"
  int face_in_other_stream = -1;  // no face in the shown stream, but in this one
};

// Examines `span` of `video` (probed by probe()). Throws lipsyncd::Error when the video cannot
// be decoded (not_decodable) or the detector's model is missing (face_detector_missing).
FaceReport check_faces(const MediaInfo& video, TimeSpan span, const FaceConfig& config);

}  // namespace lipsyncd::media
