// JobPipeline's guards before money is spent: the duplicate guard at `accepted` and the
// budget check before the upload and the submit.

#include "lipsyncd/core/durable_file.hpp"
#include "lipsyncd/core/error.hpp"
#include "lipsyncd/daemon/job_pipeline.hpp"

namespace lipsyncd::daemon {

using spool::JobRecord;
using spool::JobState;
using EventName = observe::EventName;

JobPipeline::DuplicateGuard JobPipeline::guard_duplicates(const JobRecord& job) {
  const auto window =
      std::chrono::seconds(static_cast<long long>(config_->intake.duplicate_window_h * 3600.0));
  // One store transaction decides, so parallel preparation can never let two copies through.
  const auto claim = context_.store.claim_content(job.id, window);
  switch (claim.verdict) {
    case spool::ContentVerdict::proceed:
      return DuplicateGuard::proceed;
    case spool::ContentVerdict::reuse_delivered:
      reuse_earlier_result(job, *claim.twin);
      return DuplicateGuard::reused;
    case spool::ContentVerdict::wait_for_twin:
      hold_as_duplicate(job, *claim.twin);
      return DuplicateGuard::parked;
  }
  return DuplicateGuard::proceed;
}

void JobPipeline::hold_as_duplicate(const JobRecord& job, const JobRecord& twin) {
  const bool wait = config_->intake.duplicate_in_flight == "wait";
  const auto reason = wait ? spool::HoldReason::duplicate_in_flight : spool::HoldReason::duplicate;
  const std::string same =
      "same inputs and options as job " + twin.id + " (" + twin.name + "), which is still at work";
  const std::string message =
      wait ? same + ": waiting for it to reuse its result, so the pair is paid once"
           : same + ": held so the pair is not paid twice. `lipsyncd retry " + job.id +
                 "` checks again (reusing the result once it is delivered), `lipsyncd cancel " +
                 job.id + "` drops it";
  context_.store.hold(job.id, reason, message);
  emit({.event = EventName::held,
        .job_id = job.id,
        .stage = stage_name(JobState::accepted),
        .reason_code = std::string(spool::to_string(reason)),
        .message = message,
        // Waiting for a twin needs nobody; a held duplicate needs a person's decision.
        .severity = wait ? std::optional(observe::Severity::info) : std::nullopt});
}

void JobPipeline::reuse_earlier_result(const JobRecord& job, const JobRecord& earlier) {
  const auto& earlier_video = earlier.delivered_paths.front();
  const auto result_file = job.result_file();
  // A copy into the spool (not a link): the user may edit or delete the earlier output.
  try {
    durable_copy(earlier_video, result_file);
  } catch (const Error& e) {
    if (e.reason_code() != kFileVanishedReason) throw;
    // Removed since the guard looked: the guard decides again at the next attempt.
    throw Error("duplicate_result_gone",
                "the result of job " + earlier.id + " (" + earlier_video.string() +
                    ") could not be read to reuse it",
                "nothing to do: the job decides again whether to wait, reuse or go to fal",
                Permanence::transient);
  }
  spool::JobResult reused;
  reused.size_bytes = std::filesystem::file_size(result_file);
  reused.duplicate_of = earlier.id;
  context_.store.mark_completed(job.id, reused);
  emit({.event = EventName::duplicate,
        .job_id = job.id,
        .stage = stage_name(JobState::accepted),
        .message = "same inputs and options as job " + earlier.id + " (" +
                   earlier_video.filename().string() + "): reusing its result, nothing paid"});
}

bool JobPipeline::hold_for_budget(const JobRecord& job) {
  const double cost = job.plan ? job.plan->estimated_usd : 0;
  const auto breach = context_.store.ledger().check(config_->budget, cost, context_.store.now());
  if (!breach) return false;
  hold_for(job, *breach);
  return true;
}

void JobPipeline::hold_for(const JobRecord& job, const spool::BudgetBreach& breach) {
  // The state says "held" and the reason code "budget_exceeded": the message says why.
  const auto message =
      breach.message() + "; resumes when the period rolls over or the cap is raised (reload)";
  context_.store.hold(job.id, spool::HoldReason::budget, message);
  emit({.event = EventName::held,
        .job_id = job.id,
        .stage = stage_name(job.state),
        .reason_code = "budget_" + breach.period,
        .cost_usd = breach.cost_usd,
        .message = message});
}

}  // namespace lipsyncd::daemon
