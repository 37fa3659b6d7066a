#pragma once
// claim.json in a job's spool folder: written (atomically, fsynced) BEFORE any input moves,
// so a crash at any point of a claim leaves enough on disk for recovery to either finish the
// claim or put the inputs back into the inbox.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "lipsyncd/core/job_request.hpp"
#include "lipsyncd/spool/job_record.hpp"

namespace lipsyncd::spool {

struct ClaimManifest {
  JobId id;
  std::string node;  // the node claiming (fleet mode): only it finishes or undoes the claim
  std::string name;
  JobSource source = JobSource::same_stem;
  std::filesystem::path folder;  // folder jobs: removed once emptied
  JobOptions options;
  TimePoint created_at{};
  SpooledFile video;
  SpooledFile audio;
  std::vector<SpooledFile> extras;

  std::vector<SpooledFile> files() const;

  static constexpr const char* kFileName = "claim.json";
  void write(const std::filesystem::path& job_dir) const;
  // Nothing when the folder has no (complete) claim.json.
  static std::optional<ClaimManifest> read(const std::filesystem::path& job_dir);
};

}  // namespace lipsyncd::spool
