#pragma once
// What the daemon says at start about the jobs an earlier run left: one `recovered` event for
// each job it resumes or follows, one `held` event for each submit that may or may not have
// reached fal, and log lines for interrupted claims and tidied spool folders.

#include <filesystem>
#include <vector>

#include "lipsyncd/observe/job_event.hpp"
#include "lipsyncd/spool/job_store.hpp"

namespace lipsyncd::daemon {

std::vector<observe::JobEvent> recovery_events(const spool::Recovery& recovery);

// recovery_events() through `emit`, plus the summary lines.
void report_recovery(const spool::Recovery& recovery, const std::filesystem::path& state_dir,
                     const std::function<void(const observe::JobEvent&)>& emit);

}  // namespace lipsyncd::daemon
