#pragma once
// The pipeline's seam to local media work (probe, face check, sync-mode plan, normalize). The
// real implementation calls the media module; unit tests pass a fake. Calls are synchronous
// and CPU-heavy: the pipeline runs them on its bounded CPU pool, never on the event loop.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "lipsyncd/core/sync_mode.hpp"
#include "lipsyncd/outbox/video_facts.hpp"

namespace lipsyncd::daemon {

struct PreparedMedia {
  std::filesystem::path video;  // what to upload: normalized into out_dir, or the input itself
  std::filesystem::path audio;
  SyncMode sync_mode = SyncMode::cut_off;
  std::string sync_mode_reason;
  double video_s = 0;  // input durations
  double audio_s = 0;
  double output_s = 0;  // what fal's result should last
  double estimated_usd = 0;
  std::vector<std::string> warnings;  // accepted with a warning (e.g. several faces)
};

class MediaWork {
 public:
  virtual ~MediaWork() = default;
  // Checks and normalizes a pair into out_dir. Throws lipsyncd::Error: permanent when the
  // inputs are unusable (the job goes to error/), transient when it may work later.
  virtual PreparedMedia prepare(const std::filesystem::path& video,
                                const std::filesystem::path& audio,
                                const std::filesystem::path& out_dir,
                                std::optional<SyncMode> requested) = 0;
  // Facts about a downloaded result, for outbox::verify_result.
  virtual outbox::VideoFacts probe_video(const std::filesystem::path& file) = 0;
};

}  // namespace lipsyncd::daemon
