// The counting rule both detectors' boxes go through (distinct_faces, faces_in_clip).

#include <algorithm>
#include <cmath>
#include <vector>

#include "lipsyncd/media/face_check.hpp"

namespace lipsyncd::media {

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

}  // namespace lipsyncd::media
