#include "lipsyncd/daemon/recovery_report.hpp"

#include <spdlog/spdlog.h>

#include "lipsyncd/daemon/job_pipeline.hpp"

namespace lipsyncd::daemon {

using EventName = observe::EventName;

std::vector<observe::JobEvent> recovery_events(const spool::Recovery& recovery) {
  std::vector<observe::JobEvent> events;
  for (const auto* list : {&recovery.poll, &recovery.resume}) {
    for (const auto& job : *list) {
      events.push_back(
          {.event = EventName::recovered,
           .job_id = job.id,
           .stage = JobPipeline::stage_name(job.stage()),
           .request_id = job.request_id,
           .message = "resuming " + job.name + " at " + std::string(spool::to_string(job.state))});
    }
  }
  for (const auto& job : recovery.needs_attention) {
    events.push_back(
        {.event = EventName::held,
         .job_id = job.id,
         .stage = JobPipeline::stage_name(spool::JobState::submitting),
         .reason_code = std::string(spool::to_string(spool::HoldReason::ambiguous_submit)),
         .message = "the daemon stopped while submitting " + job.name +
                    ": fal may or may not have the request, so it is not resent. Check fal's "
                    "dashboard, then `lipsyncd retry " +
                    job.id + "` or `lipsyncd cancel " + job.id + "`",
         .severity = observe::Severity::error});
  }
  return events;
}

void report_recovery(const spool::Recovery& recovery, const std::filesystem::path& state_dir,
                     const std::function<void(const observe::JobEvent&)>& emit) {
  for (const auto& id : recovery.reclaimed) {
    spdlog::info("job {}: claim interrupted by a crash, finished now", id);
  }
  if (recovery.removed_temporaries > 0 || recovery.tidied_folders > 0) {
    spdlog::info(
        "spool: removed {} temporary file(s) of interrupted writes and {} folder(s) of "
        "finished jobs",
        recovery.removed_temporaries, recovery.tidied_folders);
  }
  for (const auto& event : recovery_events(recovery)) emit(event);
  spdlog::info("job store {}: {} to poll, {} to resume, {} held, {} need attention",
               state_dir.string(), recovery.poll.size(), recovery.resume.size(),
               recovery.held.size(), recovery.needs_attention.size());
}

}  // namespace lipsyncd::daemon
