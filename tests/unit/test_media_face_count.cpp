// Faces are counted as a person counts them (face_check.cpp explains the three rules): a box
// overlapping a larger one (by 5% of its area) is the same face, a box under 70% of the main face's
// height is not a second speaker, and n faces need to recur in a quarter of the samples (and two at
// least). The rules alone, then on the real clips that made the cascade report phantom faces.

#include <gtest/gtest.h>

#include <vector>

#include "lipsyncd/config/config.hpp"
#include "lipsyncd/media/face_check.hpp"
#include "lipsyncd/media/media_info.hpp"
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

}  // namespace
}  // namespace lipsyncd::media
