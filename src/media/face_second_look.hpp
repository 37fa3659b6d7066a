#pragma once
// A second look at a clip whose face check found no face (or too little of one): is the face
// lying on its side (a lost rotation tag), or in another video stream? Private to src/media.

#include "face_detector.hpp"
#include "lipsyncd/config/config.hpp"
#include "lipsyncd/media/face_check.hpp"
#include "lipsyncd/media/media_info.hpp"

namespace lipsyncd::media {

// Rewrites a no_face / face_not_visible_enough verdict as face_sideways, or adds which other
// stream shows a face to its message. Other verdicts are left alone.
void explain_a_missing_face(FaceReport& report, const MediaInfo& video, TimeSpan span,
                            FaceDetector& detector, const FaceConfig& config);

}  // namespace lipsyncd::media
