// JobPipeline's answer to a failed step: the job waits (deferred), waits for a person (held),
// or goes to error/ (failed); nothing when someone else changed the job meanwhile.

#include <spdlog/spdlog.h>

#include "lipsyncd/core/disk_error.hpp"
#include "lipsyncd/core/error.hpp"
#include "lipsyncd/daemon/job_files.hpp"
#include "lipsyncd/daemon/job_pipeline.hpp"
#include "lipsyncd/daemon/retry_backoff.hpp"
#include "lipsyncd/fal/error.hpp"
#include "lipsyncd/outbox/delivery.hpp"
#include "lipsyncd/spool/spool_cleanup.hpp"

namespace lipsyncd::daemon {
namespace {

using spool::JobState;
using EventName = observe::EventName;

std::string iso_utc(spool::TimePoint at) {
  const std::time_t t = std::chrono::system_clock::to_time_t(at);
  std::tm utc{};
  ::gmtime_r(&t, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

struct Classified {
  Failure what;
  bool ambiguous = false;  // the submit may or may not have reached fal
};

Classified classify(std::exception_ptr failure) {
  try {
    std::rethrow_exception(failure);
  } catch (const fal::FalError& e) {
    return {e.failure(), e.kind() == fal::FalErrorKind::ambiguous_submit};
  } catch (const Error& e) {
    return {e.failure()};
  } catch (const std::filesystem::filesystem_error& e) {
    return {disk_error("cannot use", e.path1(), e.code().value()).failure()};
  } catch (const std::exception& e) {
    // Not one of ours (a bug): keep the job and try again later.
    return {Failure{"internal_error", e.what(), "see the daemon's log", Permanence::transient}};
  }
}

}  // namespace

bool changed_meanwhile(JobState acted_on, JobState now) noexcept {
  // The submit step itself moves `uploaded` to `submitting` before the POST.
  return now != acted_on && !(acted_on == JobState::uploaded && now == JobState::submitting);
}

void JobPipeline::handle_failure(const spool::JobId& id, JobState acted_on,
                                 std::exception_ptr failure) {
  const auto [what, ambiguous] = classify(failure);
  if (what.reason_code == spool::kLeaseLostReason) {
    // Another node holds the job now (this one was silent too long, or a person's retry or
    // cancel revoked the lease): it is theirs to finish, and nothing here may be recorded.
    spdlog::warn("{}; this node stops working on it", what.message);
    return;
  }
  try {
    const auto job = context_.store.find(id);
    if (!job) return;
    if (changed_meanwhile(acted_on, job->state)) {
      spdlog::info("job {}: changed by someone else meanwhile (cancel or retry); this run stops",
                   id);
      return;
    }
    if (spool::is_final(job->state)) return;
    const auto stage = stage_name(job->stage());
    spool::JobError error{stage, what.reason_code, what.message, what.hint};
    if (ambiguous) {
      // what.message already says that the submit may or may not have reached fal; the
      // reason lives in reason_code and hold_reason alone, so no line repeats it.
      const auto message = what.message +
                           "; not resent, to avoid paying twice. Check fal's dashboard, then "
                           "`lipsyncd retry " +
                           id + "` to submit again or `lipsyncd cancel " + id + "`";
      context_.store.hold(id, spool::HoldReason::ambiguous_submit, message);
      emit({.event = EventName::held,
            .job_id = id,
            .stage = stage,
            .reason_code = std::string(spool::to_string(spool::HoldReason::ambiguous_submit)),
            .message = message,
            .severity = observe::Severity::error});
      return;
    }
    if (gate_.close_if_key_refused(id, what)) {
      spdlog::error(
          "fal refused the API key ({}: {}): no job is uploaded or submitted until it is fixed "
          "and lipsyncd is reloaded (`systemctl reload lipsyncd`) or restarted; requests fal "
          "already has are still followed",
          what.reason_code, what.message);
    }
    // A full disk, or an outbox lipsyncd may not write to, is nobody's fault and no reason to
    // give up a paid result: the job waits for the fix without using up its attempts.
    const bool disk_full = what.reason_code == kDiskFullReason;
    const bool blocked = what.reason_code == outbox::kDeliveryBlockedReason;
    const bool paused = what.reason_code == kSubmissionsPausedReason;
    const bool waits_for_fix = disk_full || blocked || paused;
    const int attempts = job->attempts + (waits_for_fix ? 0 : 1);
    if (what.permanence == Permanence::transient &&
        (waits_for_fix || may_retry(attempts, config_->daemon))) {
      const auto retry_at =
          context_.store.now() + retry_delay(std::max(attempts, 1), config_->daemon);
      context_.store.defer(id, error, retry_at,
                           waits_for_fix ? spool::JobStore::AttemptCount::free
                                         : spool::JobStore::AttemptCount::counts);
      const std::string progress =
          disk_full ? "waiting for free space"
          : blocked ? "the paid result waits in the spool until this is fixed: " + what.hint
          : paused  ? "waiting: " + what.hint
                    : "attempt " + std::to_string(attempts) + " of " +
                         std::to_string(config_->daemon.max_attempts);
      emit({.event = EventName::deferred,
            .job_id = id,
            .stage = stage,
            .request_id = job->request_id,
            .reason_code = what.reason_code,
            .retry_at = iso_utc(retry_at),
            .message = what.message + " (" + progress + ")",
            // Loud until a person acts.
            .severity = blocked ? std::optional(observe::Severity::error) : std::nullopt});
      return;
    }
    if (job->is_segment()) {
      // The inputs are the parent's: its own failure (which names this segment) moves them to
      // error/. Nothing of the segment is removed: a retry of the parent reuses what it has.
      context_.store.fail(id, error);
      spdlog::error("job {}: segment {}/{} failed at stage {}: {} ({})", job->segment->parent_id,
                    job->segment->index, job->segment->count, stage, what.message,
                    what.reason_code);
      return;
    }
    outbox::ErrorReport report{.job_id = id,
                               .stage = stage,
                               .reason_code = what.reason_code,
                               .message = what.message,
                               .hint = what.hint};
    if (!job->request_id.empty()) report.request_id = job->request_id;
    const auto report_path =
        outbox::reject_inputs(job_inputs(*job), config_->paths.error, job->name, report);
    // Only what a retry needs stays in the spool (see spool_cleanup.hpp).
    spool::tidy_final_spool_folder(context_.store.fail(id, error));
    emit({.event = EventName::failed,
          .job_id = id,
          .stage = stage,
          .request_id = job->request_id,
          .reason_code = what.reason_code,
          .message = what.message + " (inputs and " + report_path.filename().string() + " in " +
                     config_->paths.error.string() + ")"});
  } catch (const std::exception& e) {
    // The store or the disk refused even that: the job stays as it is and is retried later.
    const auto delay = retry_delay(1, config_->daemon);
    unrecorded_retry_at_[id] = std::chrono::steady_clock::now() + delay;
    spdlog::error("job {}: cannot record the failure ({}): {}; trying again in {} s", id,
                  what.message, e.what(),
                  std::chrono::duration_cast<std::chrono::seconds>(delay).count());
  }
}

}  // namespace lipsyncd::daemon
