#include "face_detector.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <opencv2/imgproc.hpp>

#include "lipsyncd/core/error.hpp"
#include "lipsyncd/media/face_check.hpp"

namespace lipsyncd::media {
namespace {

// Tuned on ../shared/media: fewer neighbours let textures (testsrc2's patterns, paintings'
// backgrounds) pass as faces; more lose real faces in dim frames.
constexpr double kScaleStep = 1.1;
constexpr int kFrontalNeighbours = 6;
constexpr int kProfileNeighbours = 8;

// The SSD's fixed input, and the mean its training subtracted (from OpenCV's sample).
const cv::Size kSsdInput(300, 300);
const cv::Scalar kSsdMean(104, 177, 123);
// A picture whose longer side is at most kSsdTileAbove goes into the net whole (the default
// detect_size, 480, does: one forward pass a sample). A larger one (the small-face second look
// at 3x detect_size, or a user's larger detect_size) is also cut into overlapping tiles of
// kSsdTile px: shrunk whole to 300x300 it would lose the small faces it is meant to show.
// Tiles a little larger than the input are hardly shrunk: tiny_face_1080p.mp4's 37-px face
// scores 0.97 in 360-px tiles of its 1440-px picture, 0.39-0.45 in 480-px tiles, nothing whole.
// A quarter of overlap keeps a face of up to 90 px whole in one tile; larger faces are found
// by the whole-picture pass, and the duplicates merge in distinct_faces().
constexpr int kSsdTile = 360;
constexpr int kSsdTileStride = 270;
constexpr int kSsdTileAbove = 2 * kSsdTile;

// Confidence a box needs to count as a face: OpenCV's own sample's threshold, and the README
// of the model's measurements. On ../shared/media every real face scores 0.73 or more at the
// default settings, while the boxes on textures and around faces score 0.30-0.45.
constexpr float kSsdMinConfidence = 0.5f;
// A box with less than this share of its area inside the picture is not a face in it. The
// SSD emits such boxes with high confidence (0.84 on real_talk_lp_d14.mp4, wholly outside,
// at 2.2 x 2.1 frame widths). Boxes that only run past an edge are clipped and kept: a real
// close-up's chin or hair often runs past the frame, and the "ghost" the model adds beside a
// large face (shifted down and right, past the edge, conf 0.6-0.98) overlaps that face by
// 14-25% of its clipped area, so the counting rule's overlap test merges it with the face.
constexpr double kSsdMinInsideShare = 0.5;
// A clipped box narrower or lower than this many pixels is degenerate, not a face.
constexpr int kSsdMinSidePx = 4;

[[noreturn]] void missing_model(const std::filesystem::path& file, const char* hint) {
  throw Error("face_detector_missing", "cannot load the face detector model " + file.string() + ".",
              hint, Permanence::permanent);
}

std::string key_of(const FaceConfig& config) {
  return config.detector + "\n" + config.cascade_dir.string() + "\n" + config.ssd_model.string() +
         "\n" + config.ssd_graph.string();
}

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

// The origins of tiles of `tile` px every `stride` px over `length` px, the last one flush
// with the end.
std::vector<int> tile_origins(int length, int tile, int stride) {
  std::vector<int> origins;
  for (int origin = 0;; origin += stride) {
    origins.push_back(std::min(origin, std::max(0, length - tile)));
    if (origins.back() + tile >= length) break;
  }
  return origins;
}

}  // namespace

std::vector<FaceBox> ssd_faces(const std::vector<SsdOutput>& rows, int width, int height) {
  std::vector<FaceBox> faces;
  for (const SsdOutput& row : rows) {
    if (!(row.confidence >= kSsdMinConfidence)) continue;
    const double left = row.left;
    const double top = row.top;
    const double right = row.right;
    const double bottom = row.bottom;
    if (!std::isfinite(left) || !std::isfinite(top) || !std::isfinite(right) ||
        !std::isfinite(bottom) || right <= left || bottom <= top) {
      continue;
    }
    const double inside_width = std::min(right, 1.0) - std::max(left, 0.0);
    const double inside_height = std::min(bottom, 1.0) - std::max(top, 0.0);
    if (inside_width <= 0 || inside_height <= 0) continue;
    const double inside_share = inside_width * inside_height / ((right - left) * (bottom - top));
    if (inside_share < kSsdMinInsideShare) continue;
    const int x1 = static_cast<int>(std::lround(std::max(left, 0.0) * width));
    const int y1 = static_cast<int>(std::lround(std::max(top, 0.0) * height));
    const int x2 = static_cast<int>(std::lround(std::min(right, 1.0) * width));
    const int y2 = static_cast<int>(std::lround(std::min(bottom, 1.0) * height));
    if (x2 - x1 < kSsdMinSidePx || y2 - y1 < kSsdMinSidePx) continue;
    faces.push_back({x1, y1, x2 - x1, y2 - y1, row.confidence});
  }
  return faces;
}

FaceDetector::FaceDetector(const FaceConfig& config) : use_ssd_(config.detector == "ssd") {
  if (use_ssd_) {
    constexpr const char* kHint = "fix [face] ssd_model / ssd_graph (see the README's face check)";
    try {
      ssd_ = cv::dnn::readNetFromTensorflow(config.ssd_model.string(), config.ssd_graph.string());
    } catch (const cv::Exception&) {
      missing_model(config.ssd_model, kHint);
    }
    if (ssd_.empty()) missing_model(config.ssd_model, kHint);
    ssd_.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
    ssd_.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
    return;
  }
  constexpr const char* kHint = "install Debian's opencv-data package or fix [face] cascade_dir";
  const auto frontal = config.cascade_dir / "haarcascade_frontalface_default.xml";
  const auto profile = config.cascade_dir / "haarcascade_profileface.xml";
  if (!frontal_.load(frontal.string())) missing_model(frontal, kHint);
  if (!profile_.load(profile.string())) missing_model(profile, kHint);
}

std::vector<Detection> FaceDetector::detect(const cv::Mat& picture, bool with_profile) {
  return use_ssd_ ? detect_with_ssd(picture) : detect_with_cascades(picture, with_profile);
}

std::vector<Detection> FaceDetector::detect_with_cascades(const cv::Mat& grey, bool with_profile) {
  cv::Mat equalized;
  cv::equalizeHist(grey, equalized);
  std::vector<Detection> faces = cascade_detect(frontal_, equalized, kFrontalNeighbours);
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

std::vector<Detection> FaceDetector::detect_with_ssd(const cv::Mat& picture) {
  std::vector<Detection> faces = run_ssd(picture, cv::Rect(0, 0, picture.cols, picture.rows));
  if (std::max(picture.cols, picture.rows) <= kSsdTileAbove) return faces;
  for (int y : tile_origins(picture.rows, kSsdTile, kSsdTileStride)) {
    for (int x : tile_origins(picture.cols, kSsdTile, kSsdTileStride)) {
      const cv::Rect tile(x, y, std::min(kSsdTile, picture.cols), std::min(kSsdTile, picture.rows));
      const std::vector<Detection> found = run_ssd(picture, tile);
      faces.insert(faces.end(), found.begin(), found.end());
    }
  }
  return faces;
}

// One forward pass over `region` of `picture`, squeezed to the net's 300x300 input as OpenCV's
// sample does; the boxes come back in pixels of `picture`.
std::vector<Detection> FaceDetector::run_ssd(const cv::Mat& picture, cv::Rect region) {
  const cv::Mat blob = cv::dnn::blobFromImage(picture(region), 1.0, kSsdInput, kSsdMean,
                                              /*swapRB=*/false, /*crop=*/false);
  ssd_.setInput(blob);
  const cv::Mat out = ssd_.forward();  // 1 x 1 x N x 7: image, class, confidence, x1 y1 x2 y2
  const cv::Mat table(out.size[2], out.size[3], CV_32F, const_cast<float*>(out.ptr<float>()));
  std::vector<SsdOutput> rows;
  for (int row = 0; row < table.rows; ++row) {
    const float* value = table.ptr<float>(row);
    rows.push_back({value[2], value[3], value[4], value[5], value[6]});
  }
  std::vector<Detection> faces;
  for (const FaceBox& box : ssd_faces(rows, region.width, region.height)) {
    faces.push_back(
        {cv::Rect(region.x + box.x, region.y + box.y, box.width, box.height), box.strength});
  }
  return faces;
}

FaceDetector& FaceDetector::for_this_thread(const FaceConfig& config) {
  // cv::dnn::Net::forward keeps its intermediate blobs in the Net, and detectMultiScale
  // may not run concurrently on one CascadeClassifier: neither can be shared between the CPU
  // pool's workers. A lock would serialise the pool; instead each worker thread loads its own
  // (once: the SSD is 2.7 MB and loads in tens of milliseconds; the pool has
  // [daemon] max_parallel_prepare threads), kept for the thread's life and keyed by the
  // settings that choose the model, so a reloaded configuration gets a fresh detector.
  thread_local std::map<std::string, std::unique_ptr<FaceDetector>> detectors;
  auto& slot = detectors[key_of(config)];
  if (!slot) slot = std::make_unique<FaceDetector>(config);
  return *slot;
}

}  // namespace lipsyncd::media
