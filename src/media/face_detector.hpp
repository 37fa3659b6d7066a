#pragma once
// Finds faces in one upright picture, with the detector [face] detector names: OpenCV's Haar
// cascades from opencv-data (frontal, then profile in both directions when the frontal one
// finds nothing), or OpenCV's ResNet-10 SSD (cv::dnn, weights supplied by the user).
// Not thread-safe: one per thread (see for_this_thread).

#include <filesystem>
#include <memory>
#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>
#include <opencv2/objdetect.hpp>
#include <string>
#include <vector>

#include "lipsyncd/config/config.hpp"

namespace lipsyncd::media {

// One face found: where, and how sure the detector is (Haar: how many neighbouring windows
// agreed, typically 6-10 for a texture that barely passes and dozens for a real face; SSD:
// its confidence, 0..1).
struct Detection {
  cv::Rect box;
  double strength = 0;
};

class FaceDetector {
 public:
  explicit FaceDetector(const FaceConfig& config);

  // `picture` is upright, 8-bit: grey for Haar, BGR for the SSD (wants_color()). The profile
  // fallback triples the cost of a frame without a frontal face; `with_profile` can skip it
  // (the SSD has no such fallback: it is trained on faces at every angle).
  std::vector<Detection> detect(const cv::Mat& picture, bool with_profile = true);
  bool wants_color() const { return use_ssd_; }
  const char* name() const { return use_ssd_ ? "ssd" : "haar"; }

  // Detectors load their models once per thread and configuration.
  static FaceDetector& for_this_thread(const FaceConfig& config);

 private:
  std::vector<Detection> detect_with_cascades(const cv::Mat& grey, bool with_profile);
  std::vector<Detection> detect_with_ssd(const cv::Mat& picture);
  std::vector<Detection> run_ssd(const cv::Mat& picture, cv::Rect region);

  bool use_ssd_ = false;
  cv::CascadeClassifier frontal_;
  cv::CascadeClassifier profile_;
  cv::dnn::Net ssd_;
};

}  // namespace lipsyncd::media
