#pragma once
// What intake found in the inbox: one video + one audio (and the files that came with them)
// that belong together, with the options the user asked for. Intake produces it; the spool
// claims its files; nothing here has been checked beyond "these files exist and are settled".

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lipsyncd/core/sync_mode.hpp"

namespace lipsyncd {

// How the pair was recognised, kept for logs, the status listing and the sidecar.
enum class JobSource {
  same_stem,  // clip.mp4 + clip.wav side by side in the inbox
  manifest,   // NAME.job.json naming video and audio
  folder,     // a folder holding one video, one audio and optionally job.json
  command,    // `lipsyncd submit` and tests: paths given directly
};

std::string_view to_string(JobSource source) noexcept;
std::optional<JobSource> parse_job_source(std::string_view name) noexcept;

struct JobRequest {
  std::string name;                           // the stem outputs are named after ("clip")
  std::filesystem::path video;                // absolute, inside the inbox
  std::filesystem::path audio;                // absolute, inside the inbox
  std::vector<std::filesystem::path> extras;  // archived with the job (manifest, job.json, ...)
  std::filesystem::path folder;               // folder jobs: the folder, removed once emptied
  JobSource source = JobSource::same_stem;

  // Asked for by a manifest; empty means "the configured default / the policy decides".
  std::optional<std::string> model;
  std::optional<SyncMode> sync_mode;
  std::optional<std::string> output_name;  // file name in the outbox, e.g. "take 3.mp4"

  // Every file the request takes out of the inbox: video, audio, then extras.
  std::vector<std::filesystem::path> files() const;
};

}  // namespace lipsyncd
