#pragma once
// Finds faces in one upright picture. Haar cascades from opencv-data by default (frontal,
// then profile in both directions when the frontal one finds nothing); cv::FaceDetectorYN
// when a model file is configured. Not thread-safe: one per thread (see for_this_thread).

#include <filesystem>
#include <memory>
#include <opencv2/core.hpp>
#include <opencv2/objdetect.hpp>
#include <string>
#include <vector>

#include "lipsyncd/config/config.hpp"

namespace lipsyncd::media {

// One face found: where, and how sure the detector is (Haar: how many neighbouring windows
// agreed, typically 6-10 for a texture that barely passes and dozens for a real face).
struct Detection {
  cv::Rect box;
  double strength = 0;
};

class FaceDetector {
 public:
  explicit FaceDetector(const FaceConfig& config);

  // `picture` is upright, 8-bit: grey for Haar, BGR for the DNN (wants_color()). The profile
  // fallback triples the cost of a frame without a frontal face; `with_profile` can skip it.
  std::vector<Detection> detect(const cv::Mat& picture, bool with_profile = true);
  bool wants_color() const { return static_cast<bool>(dnn_); }
  const char* name() const { return dnn_ ? "yunet" : "haar"; }

  // Detectors load their models once per thread and configuration.
  static FaceDetector& for_this_thread(const FaceConfig& config);

 private:
  std::string key_;
  cv::CascadeClassifier frontal_;
  cv::CascadeClassifier profile_;
  cv::Ptr<cv::FaceDetectorYN> dnn_;
};

}  // namespace lipsyncd::media
