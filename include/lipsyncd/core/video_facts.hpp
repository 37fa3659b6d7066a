#pragma once
// What verifying a downloaded result needs to know about a video file. The media module's
// probe fills it; the outbox checks it. Here, so neither of the two depends on the other.

namespace lipsyncd {

struct VideoFacts {
  bool has_video = false;
  double duration_s = 0;
};

}  // namespace lipsyncd
