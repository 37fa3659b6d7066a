#pragma once
// NAME.job.json (in the inbox) and job.json (in a job folder): which files form the job and
// what the user asks for. Every path must stay inside the inbox: absolute paths, "..", and
// symlinks are refused, so a manifest can never make lipsyncd move a file from elsewhere.

#include <filesystem>
#include <optional>
#include <string>
#include <variant>

#include "lipsyncd/core/sync_mode.hpp"
#include "lipsyncd/intake/inbox_watcher.hpp"

namespace lipsyncd::intake {

struct JobManifest {
  std::optional<std::filesystem::path> video;  // absolute; required in NAME.job.json
  std::optional<std::filesystem::path> audio;
  std::optional<std::string> model;
  std::optional<SyncMode> sync_mode;
  std::optional<std::string> output_name;
};

// Reads `manifest`; its paths are relative to `base` (the inbox, or the job folder) and must
// resolve inside `inbox`. A Rejection ("bad_manifest", "path_outside_inbox") names the file.
std::variant<JobManifest, Rejection> read_job_manifest(const std::filesystem::path& manifest,
                                                       const std::filesystem::path& base,
                                                       const std::filesystem::path& inbox);

}  // namespace lipsyncd::intake
