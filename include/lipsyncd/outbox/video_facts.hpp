#pragma once
// What verifying a downloaded result needs to know about a video file; filled by the media
// module's probe (the daemon passes it in, so outbox does not depend on media).

namespace lipsyncd::outbox {

struct VideoFacts {
  bool has_video = false;
  double duration_s = 0;
};

}  // namespace lipsyncd::outbox
