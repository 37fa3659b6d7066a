#include "face_detector.hpp"

#include <map>
#include <opencv2/imgproc.hpp>

#include "lipsyncd/core/error.hpp"

namespace lipsyncd::media {
namespace {

// Tuned on ../shared/media: fewer neighbours let textures (testsrc2's patterns, paintings'
// backgrounds) pass as faces; more lose real faces in dim frames.
constexpr double kScaleStep = 1.1;
constexpr int kFrontalNeighbours = 6;
constexpr int kProfileNeighbours = 8;
constexpr float kDnnScoreThreshold = 0.8f;

[[noreturn]] void missing_model(const std::filesystem::path& file) {
  throw Error("face_detector_missing", "cannot load the face detector model " + file.string() + ".",
              "install Debian's opencv-data package or fix [face] cascade_dir / dnn_model",
              Permanence::permanent);
}

std::string key_of(const FaceConfig& config) {
  return config.cascade_dir.string() + "\n" + config.dnn_model.string();
}

}  // namespace

FaceDetector::FaceDetector(const FaceConfig& config) : key_(key_of(config)) {
  if (!config.dnn_model.empty()) {
    try {
      dnn_ = cv::FaceDetectorYN::create(config.dnn_model.string(), "", cv::Size(320, 320),
                                        kDnnScoreThreshold);
    } catch (const cv::Exception&) {
      missing_model(config.dnn_model);
    }
    if (!dnn_) missing_model(config.dnn_model);
    return;
  }
  const auto frontal = config.cascade_dir / "haarcascade_frontalface_default.xml";
  const auto profile = config.cascade_dir / "haarcascade_profileface.xml";
  if (!frontal_.load(frontal.string())) missing_model(frontal);
  if (!profile_.load(profile.string())) missing_model(profile);
}

namespace {

std::vector<Detection> cascade_detect(cv::CascadeClassifier& cascade, const cv::Mat& picture,
                                      int neighbours) {
  std::vector<cv::Rect> boxes;
  std::vector<int> agreeing;
  cascade.detectMultiScale(picture, boxes, agreeing, kScaleStep, neighbours);
  std::vector<Detection> found;
  for (size_t i = 0; i < boxes.size(); ++i) {
    found.push_back({boxes[i], i < agreeing.size() ? static_cast<double>(agreeing[i]) : 0.0});
  }
  return found;
}

}  // namespace

std::vector<Detection> FaceDetector::detect(const cv::Mat& picture, bool with_profile) {
  std::vector<Detection> faces;
  if (dnn_) {
    dnn_->setInputSize(picture.size());
    cv::Mat found;
    dnn_->detect(picture, found);
    for (int row = 0; row < found.rows; ++row) {
      faces.push_back({cv::Rect(static_cast<int>(found.at<float>(row, 0)),
                                static_cast<int>(found.at<float>(row, 1)),
                                static_cast<int>(found.at<float>(row, 2)),
                                static_cast<int>(found.at<float>(row, 3))),
                       found.at<float>(row, 14)});
    }
    return faces;
  }
  cv::Mat equalized;
  cv::equalizeHist(picture, equalized);
  faces = cascade_detect(frontal_, equalized, kFrontalNeighbours);
  if (!faces.empty() || !with_profile) return faces;
  // The profile cascade knows one side only; the mirror image covers the other.
  faces = cascade_detect(profile_, equalized, kProfileNeighbours);
  if (!faces.empty()) return faces;
  cv::Mat mirrored;
  cv::flip(equalized, mirrored, 1);
  faces = cascade_detect(profile_, mirrored, kProfileNeighbours);
  for (Detection& face : faces) face.box.x = mirrored.cols - face.box.x - face.box.width;
  return faces;
}

FaceDetector& FaceDetector::for_this_thread(const FaceConfig& config) {
  thread_local std::map<std::string, std::unique_ptr<FaceDetector>> detectors;
  auto& slot = detectors[key_of(config)];
  if (!slot) slot = std::make_unique<FaceDetector>(config);
  return *slot;
}

}  // namespace lipsyncd::media
