#pragma once
// Decides which files in the inbox form jobs. A pure function of what the watcher has seen
// (paths, settled or not, since when) and the clock, so every pairing rule is testable
// without inotify. Forms: same-stem pairs at the top level, NAME.job.json manifests, and
// first-level folders (one video + one audio, optional job.json). Lone files wait
// partner_wait for a partner, then are rejected.

#include <chrono>
#include <filesystem>
#include <optional>
#include <set>
#include <vector>

#include "lipsyncd/core/job_request.hpp"
#include "lipsyncd/intake/inbox_watcher.hpp"
#include "lipsyncd/intake/settle_rule.hpp"

namespace lipsyncd::intake {

struct InboxFile {
  std::filesystem::path path;  // absolute, inside the inbox
  bool settled = false;
  SteadyTime settled_since{};  // meaningful when settled
};

struct PairingOutcome {
  std::vector<JobRequest> requests;
  std::vector<Rejection> rejections;
  std::optional<SteadyTime> next_deadline;  // when a waiting file's partner time runs out
};

// `inbox` must be canonical. Files are handed out in at most one request or rejection.
PairingOutcome pair_files(const std::filesystem::path& inbox, const std::vector<InboxFile>& files,
                          SteadyTime now, std::chrono::steady_clock::duration partner_wait);

}  // namespace lipsyncd::intake
