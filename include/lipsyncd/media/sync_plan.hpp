#pragma once
// The sync-mode policy: which of fal's sync modes to ask for given both durations, how long
// the result will be, how much of each input is worth uploading, and what it will cost.
// Pure function of its inputs (no I/O); cheap and thread-safe.

#include <optional>
#include <string>

#include "lipsyncd/config/config.hpp"
#include "lipsyncd/core/sync_mode.hpp"
#include "lipsyncd/media/media_info.hpp"

namespace lipsyncd::media {

struct SyncPlan {
  SyncMode mode = SyncMode::cut_off;
  double video_duration_s = 0;  // the durations the plan was made from (video_seconds(), ...)
  double audio_duration_s = 0;
  std::string reason;  // one sentence: why this mode
  double output_duration_s = 0;
  TimeSpan video_span;  // pre-trim: the part of the video fal will use
  TimeSpan audio_span;  // pre-trim: the part of the audio fal will use
  double estimated_cost_usd = 0;
};

// Durations are the streams' own (video_seconds(), audio_seconds()), never the container's.
// Precedence: `requested` (a job's own choice),
// then policy.forced, then the policy table of docs/design.md:
//   |a - v| <= max(tolerance_s, tolerance_ratio * v)  -> cut_off, output min(a, v)
//   audio longer, video >= short_video_s              -> policy.audio_longer, output a
//   audio longer, video <  short_video_s              -> loop, output a
//   video longer                                      -> policy.video_longer (cut_off: a, silence:
//   v)
// remap is only used when asked for. Cost: output minutes x price_per_minute_usd.
SyncPlan plan_sync(const MediaInfo& video, const MediaInfo& audio, const PolicyConfig& policy,
                   std::optional<SyncMode> requested = std::nullopt);

}  // namespace lipsyncd::media
