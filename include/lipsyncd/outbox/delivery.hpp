#pragma once
// Where a finished job's files go: the result video into outbox/ (verified first, then placed
// in one step, never overwriting another job's file) with its sidecar, the inputs into done/;
// a failed job's inputs into error/ with an error report. Every step is idempotent, so the
// daemon can simply repeat it after a crash.

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "lipsyncd/outbox/error_report.hpp"
#include "lipsyncd/outbox/sidecar.hpp"

namespace lipsyncd::outbox {

// What verification needs to know about a file; filled by the media module's probe.
struct VideoFacts {
  bool has_video = false;
  double duration_s = 0;
};
// Throws lipsyncd::Error when the file is not readable media.
using VideoProber = std::function<VideoFacts(const std::filesystem::path&)>;

struct InputFile {
  std::filesystem::path path;  // where it is now (the job's spool folder)
  std::string original_name;   // the name it had in the inbox (may include a sub-folder)
};

struct Delivered {
  std::filesystem::path video;
  std::filesystem::path sidecar;
  bool crossed_filesystems = false;
};

// Throws Error "result_invalid" (transient: the download is repeated) when `downloaded` is not
// an MP4 with a video stream, or its duration is more than `tolerance_s` away from `expected_s`
// (expected_s <= 0 skips the duration check). Returns the measured facts.
VideoFacts verify_result(const std::filesystem::path& downloaded, double expected_s,
                         double tolerance_s, const VideoProber& probe);

// Places the verified file into `outbox` as `name` (or a numbered variant) and writes the
// sidecar beside it. `verified` is kept (remove it once the delivery is recorded), so calling
// again after a crash finds the already placed file instead of delivering a second copy.
Delivered deliver_result(const std::filesystem::path& verified, const std::filesystem::path& outbox,
                         const std::string& name, Sidecar sidecar);

struct Archived {
  std::vector<std::filesystem::path> files;
  bool crossed_filesystems = false;
};

// Moves inputs (those still present) into `folder` under their original names.
Archived archive_inputs(const std::vector<InputFile>& inputs, const std::filesystem::path& folder);

// Moves the inputs into error/ and writes error/<stem>.error.json (numbered when taken).
// Returns the report's path.
std::filesystem::path reject_inputs(const std::vector<InputFile>& inputs,
                                    const std::filesystem::path& error_folder,
                                    const std::string& stem, ErrorReport report);

// Expands an output pattern: "{stem}" becomes the job's stem ("{stem}.lipsync.mp4").
std::string output_name(const std::string& pattern, const std::string& stem);

// Now as ISO-8601 UTC with seconds ("2026-11-25T06:30:00Z").
std::string utc_timestamp_now();

}  // namespace lipsyncd::outbox
