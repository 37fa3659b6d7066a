// Faces are counted as a person counts them (face_check.cpp explains the three rules): a box
// overlapping a larger one (by 5% of its area) is the same face, a box under 70% of the main face's
// height is not a second speaker, and n faces need to recur in a quarter of the samples (and two at
// least). The rules alone, then on the real clips that made the cascade report phantom faces.

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "lipsyncd/config/config.hpp"
#include "lipsyncd/media/face_check.hpp"
#include "lipsyncd/media/media_info.hpp"
#include "ssd_config.hpp"
#include "test_media.hpp"

namespace lipsyncd::media {
namespace {

TEST(DistinctFaces, ABoxOverlappingALargerOneIsTheSameFace) {
  // A face and a second, shifted box on its chin: one face.
  const auto faces = distinct_faces({{100, 100, 120, 120}, {130, 170, 90, 90}});
  ASSERT_EQ(faces.size(), 1u);
  EXPECT_EQ(faces[0].width, 120);  // the larger box stays
}

TEST(DistinctFaces, AFarSmallerBoxIsNotASecondSpeaker) {
  // A speaker and a 40 px texture in the background, well apart: one face.
  EXPECT_EQ(distinct_faces({{300, 50, 40, 40}, {100, 100, 120, 120}}).size(), 1u);
  // The cascade's phantom beside a face (real_talk_retalk1.mp4 at 1.9 s): two thirds of its
  // height, and overlapping its edge by a tenth of its area. Either rule alone removes it.
  EXPECT_EQ(distinct_faces({{216, 79, 77, 77}, {196, 78, 164, 164}, {96, 102, 111, 111}}).size(),
            1u);
  EXPECT_EQ(distinct_faces({{196, 78, 164, 164}, {96, 102, 150, 150}}).size(), 1u);
  EXPECT_EQ(distinct_faces({{196, 78, 164, 164}, {20, 102, 111, 111}}).size(), 1u);
  // A person beside the speaker, a little farther away, is still a second face, even with
  // the heads close together.
  EXPECT_EQ(distinct_faces({{300, 100, 100, 100}, {100, 100, 120, 120}}).size(), 2u);
  EXPECT_EQ(distinct_faces({{222, 100, 100, 100}, {100, 100, 120, 120}}).size(), 2u);
}

TEST(DistinctFaces, TwoSpeakersSideBySideAreTwoFaces) {
  EXPECT_EQ(distinct_faces({{20, 80, 110, 110}, {260, 90, 100, 100}}).size(), 2u);
  EXPECT_TRUE(distinct_faces({}).empty());
}

TEST(FacesInClip, SeveralFacesMustRecurAcrossSamples) {
  EXPECT_EQ(faces_in_clip({0, 0, 0, 0}), 0);
  EXPECT_EQ(faces_in_clip({1, 1, 1, 1, 1, 1, 1, 1}), 1);
  // One stray second box in eight samples: one person.
  EXPECT_EQ(faces_in_clip({1, 1, 2, 1, 1, 1, 1, 1}), 1);
  // A quarter of the samples with a face, and at least two: a second person who is there.
  EXPECT_EQ(faces_in_clip({1, 2, 1, 1, 2, 1, 1, 1}), 2);
  EXPECT_EQ(faces_in_clip({2, 2, 2, 2, 2, 2, 2, 2}), 2);
  EXPECT_EQ(faces_in_clip({3, 2, 2, 2, 2, 2, 2, 2}), 2);
  // Samples without a face do not dilute the share.
  EXPECT_EQ(faces_in_clip({0, 0, 0, 0, 0, 0, 2, 2}), 2);
  // A single sample cannot show recurrence; what it shows is all there is.
  EXPECT_EQ(faces_in_clip({2}), 2);
}

// The clips on which the cascade alone reported several faces (up to 3, in up to half the
// samples) count one; the two real speakers count two.
TEST(FacesInClip, RealClipsCountAsAPersonWould) {
  const FaceConfig config;
  for (const char* single : {"real_talk_retalk1.mp4", "real_talk_lp_s20_portrait.mp4",
                             "rotated_90.mp4", "pair_a2x_video.mp4", "pair_eq_video.mp4"}) {
    SCOPED_TRACE(single);
    const MediaInfo info = probe(test::media(single));
    const FaceReport report = check_faces(info, {0, video_seconds(info)}, config);
    EXPECT_EQ(report.max_faces, 1);
    EXPECT_TRUE(report.reason_code.empty()) << report.message;
  }
  const MediaInfo two = probe(test::media("two_faces.mp4"));
  const FaceReport report = check_faces(two, {0, video_seconds(two)}, config);
  EXPECT_EQ(report.max_faces, 2);
  EXPECT_EQ(report.reason_code, "multiple_faces");
  EXPECT_TRUE(report.is_warning);
}

// The SSD's raw rows become face boxes (ssd_faces): confident, not degenerate, mostly inside
// the picture, clipped to it. Values are the model's own, read off ../shared/media.
TEST(SsdFaces, ConfidenceBelowOneHalfIsNotAFace) {
  EXPECT_TRUE(ssd_faces({{0.49f, 0.3f, 0.2f, 0.6f, 0.8f}}, 480, 270).empty());
  EXPECT_TRUE(ssd_faces({{0.35f, 0.213f, 0.417f, 0.408f, 0.743f}}, 480, 270).empty());
  const auto kept = ssd_faces({{0.5f, 0.3f, 0.2f, 0.6f, 0.8f}}, 480, 270);
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(kept[0].x, 144);
  EXPECT_EQ(kept[0].y, 54);
  EXPECT_EQ(kept[0].width, 144);
  EXPECT_EQ(kept[0].height, 162);
  EXPECT_FLOAT_EQ(static_cast<float>(kept[0].strength), 0.5f);
}

TEST(SsdFaces, BoxesWhollyOrMostlyOutsideThePictureAreDropped) {
  // real_talk_lp_d14.mp4: confident boxes at twice the frame's size, nowhere in the frame.
  EXPECT_TRUE(ssd_faces({{0.84f, 2.215f, 2.139f, 2.750f, 2.934f}}, 480, 480).empty());
  EXPECT_TRUE(ssd_faces({{0.9f, -0.6f, 0.2f, -0.1f, 0.5f}}, 480, 480).empty());
  // A third inside, two thirds past the corner.
  EXPECT_TRUE(ssd_faces({{0.95f, 0.8f, 0.8f, 1.3f, 1.4f}}, 480, 480).empty());
}

TEST(SsdFaces, DegenerateBoxesAreDropped) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  EXPECT_TRUE(ssd_faces({{0.99f, 0.5f, 0.2f, 0.5f, 0.6f}}, 480, 270).empty());  // no width
  EXPECT_TRUE(ssd_faces({{0.99f, 0.6f, 0.2f, 0.4f, 0.6f}}, 480, 270).empty());  // inverted
  EXPECT_TRUE(ssd_faces({{0.99f, nan, 0.2f, 0.4f, 0.6f}}, 480, 270).empty());   // not a number
  EXPECT_TRUE(ssd_faces({{nan, 0.1f, 0.2f, 0.4f, 0.6f}}, 480, 270).empty());
  EXPECT_TRUE(ssd_faces({{0.99f, 0.5f, 0.5f, 0.505f, 0.6f}}, 480, 270).empty());  // 2 px wide
}

TEST(SsdFaces, AFaceRunningPastTheEdgeIsClippedAndKept) {
  // A close-up whose chin runs past the bottom edge is still the speaker.
  const auto faces = ssd_faces({{0.99f, -0.05f, 0.2f, 0.5f, 1.08f}}, 480, 270);
  ASSERT_EQ(faces.size(), 1u);
  EXPECT_EQ(faces[0].x, 0);
  EXPECT_EQ(faces[0].y, 54);
  EXPECT_EQ(faces[0].width, 240);
  EXPECT_EQ(faces[0].height, 270 - 54);
}

TEST(SsdFaces, TheGhostBesideALargeFaceIsTheSameFace) {
  // The model's "ghost": a second confident box the size of a large face, shifted down and
  // right past the frame's edge. Clipped, it overlaps the face and the counting rule merges it.
  const std::vector<std::vector<SsdOutput>> samples = {
      // real_talk_lp_d18.mp4, photo_talk_h264_aac.mp4, real_talk_lp_d11.mp4, pair_v3x_video.mp4
      {{1.00f, 0.275f, 0.221f, 0.742f, 0.885f}, {0.95f, 0.612f, 0.561f, 1.064f, 1.217f}},
      {{1.00f, 0.257f, 0.172f, 0.717f, 0.740f}, {0.73f, 0.588f, 0.518f, 1.044f, 1.088f}},
      {{1.00f, 0.252f, 0.249f, 0.735f, 0.919f}, {0.98f, 0.582f, 0.584f, 1.069f, 1.251f}},
      {{1.00f, 0.344f, 0.219f, 0.834f, 0.893f}, {0.86f, 0.681f, 0.542f, 1.162f, 1.231f}},
  };
  for (const auto& rows : samples) {
    const auto boxes = ssd_faces(rows, 480, 480);
    for (const FaceBox& box : boxes) {
      EXPECT_LE(box.x + box.width, 480);
      EXPECT_LE(box.y + box.height, 480);
    }
    const auto faces = distinct_faces(boxes);
    ASSERT_EQ(faces.size(), 1u);
    EXPECT_EQ(faces[0].x, static_cast<int>(std::lround(rows[0].left * 480)));
  }
}

TEST(SsdFaces, TwoSpeakersSideBySideStayTwoFaces) {
  // two_faces.mp4, 480x240.
  const auto faces = distinct_faces(
      ssd_faces({{0.98f, 0.642f, 0.222f, 0.838f, 0.775f}, {0.97f, 0.141f, 0.228f, 0.321f, 0.716f}},
                480, 240));
  EXPECT_EQ(faces.size(), 2u);
}

// On real footage the SSD's raw boxes include the ghosts (more boxes than faces in a sample),
// and the clip still counts one face, as Haar's does.
TEST(SsdFaces, RealClipsWithGhostsCountOneFace) {
  const FaceConfig config = test::ssd_config().face;
  for (const char* single : {"photo_talk_h264_aac.mp4", "real_talk_lp_d18.mp4"}) {
    SCOPED_TRACE(single);
    const MediaInfo info = probe(test::media(single));
    const FaceReport report = check_faces(info, {0, video_seconds(info)}, config);
    EXPECT_EQ(report.detector, "ssd");
    EXPECT_GE(report.max_detections, 2);
    EXPECT_EQ(report.max_faces, 1);
    EXPECT_TRUE(report.reason_code.empty()) << report.message;
  }
}

}  // namespace
}  // namespace lipsyncd::media
