#pragma once
// The pipeline's seam to local media work (probe, face check, sync-mode plan, normalize). The
// real implementation calls the media module; unit tests pass a fake. Calls are synchronous
// and CPU-heavy: the pipeline runs them on its bounded CPU pool, never on the event loop.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "lipsyncd/core/endpoint_catalog.hpp"
#include "lipsyncd/core/sync_mode.hpp"
#include "lipsyncd/core/video_facts.hpp"
#include "lipsyncd/spool/job_record.hpp"

namespace lipsyncd::daemon {

// The plan a job is stored with once prepared, and what was accepted with a warning.
struct PreparedJob {
  spool::JobPlan plan;
  std::vector<std::string> warnings;  // e.g. several faces
};

// A long-form job's segment results, to be joined into one video (media::stitch_segments).
// Every member has an initializer, so designated initializers may name only what they set.
struct StitchWork {
  std::vector<std::filesystem::path> segments{};  // fal's results, in order
  std::vector<double> planned_s{};                // each segment's planned length
  std::filesystem::path audio{};                  // the job's own audio track over the whole output
  double expected_s = 0;
};
// What the stitcher did, for the log.
struct StitchSummary {
  bool reencoded = false;
  std::string reencode_reason{};
  double duration_s = 0;
  double worst_seam_offset_s = 0;
};

class MediaWork {
 public:
  virtual ~MediaWork() = default;
  // Checks and normalizes a pair into out_dir and plans the job: sync mode, durations, the
  // files to upload (the normalized ones, or the inputs themselves), and the estimate at
  // `price`'s model and rate. Throws lipsyncd::Error: permanent when the inputs are unusable
  // (the job goes to error/), transient when it may work later.
  virtual PreparedJob prepare(const std::filesystem::path& video,
                              const std::filesystem::path& audio,
                              const std::filesystem::path& out_dir,
                              std::optional<SyncMode> requested, const ModelChoice& price) = 0;
  // Joins the segment results into `destination` (atomically) and checks the result: its
  // duration, a full decode, the audio/video offset at each seam. Throws lipsyncd::Error
  // (stitch_check_failed, permanent, naming what is off; disk_error, transient).
  virtual StitchSummary stitch(const StitchWork& work,
                               const std::filesystem::path& destination) = 0;
  // Facts about a downloaded result, for outbox::verify_result.
  virtual VideoFacts probe_video(const std::filesystem::path& file) = 0;
};

}  // namespace lipsyncd::daemon
