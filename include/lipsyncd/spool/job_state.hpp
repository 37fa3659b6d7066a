#pragma once
// The job state machine. Every arrow is a persisted transition; the store refuses an arrow
// that is not listed here (asking for one is a bug in the caller, so it throws).
//
//   accepted ─▶ prepared ─▶ uploaded ─▶ submitting ─▶ submitted ─▶ completed ─▶ delivered
//      │           │           │            │             │            │
//      └───────────┴───────────┴─▶ deferred / held ◀──────┴────────────┘   (resume later)
//   any unfinished state ─▶ failed | cancelled
//   failed ─▶ accepted (retry, nothing paid) | submitted (retry, request id known: poll)
//          | completed (retry, result known: deliver)
//
// A long-form job (JobPlan::segments) runs its segments as child jobs, each from `prepared`
// along the arrows above, while the parent waits:
//   prepared ─▶ segmented ─▶ completed (the segments' outputs stitched) ─▶ delivered
//   segmented ─▶ deferred / held (resume to segmented) | failed | cancelled
//   failed ─▶ segmented (retry: the segments go on) ; a failed segment ─▶ prepared (retry,
//             nothing paid: its inputs are cut already)
//
// prepared = normalized + checked + planned. submitting = the intent to POST is on disk and
// the POST may have happened; only `submitted` (request_id known) may ever be polled.
// A duplicate of an earlier delivered job may go accepted/prepared ─▶ completed directly.

#include <array>
#include <optional>
#include <string_view>

namespace lipsyncd::spool {

enum class JobState {
  accepted,
  prepared,
  uploaded,
  submitting,
  submitted,
  segmented,  // a long-form job whose segments run as child jobs: waits for them, then stitched
  completed,
  delivered,
  deferred,   // transient failure: retried at next_attempt_at, resumes resume_state
  held,       // waits for a person or the budget: see HoldReason
  failed,     // final; the inputs go to error/
  cancelled,  // final; by `lipsyncd cancel`
};

inline constexpr std::array<JobState, 12> kAllJobStates = {
    JobState::accepted,  JobState::prepared,  JobState::uploaded,  JobState::submitting,
    JobState::submitted, JobState::segmented, JobState::completed, JobState::delivered,
    JobState::deferred,  JobState::held,      JobState::failed,    JobState::cancelled};

// Why a job is held. Budget holds resume by themselves when the period rolls over or the cap
// is raised; an ambiguous submit needs a person (fal has no idempotency key, so resubmitting
// could pay twice). duplicate_in_flight waits for a twin with the same content that is at fal
// and resumes by itself when the twin is finished; duplicate ([intake] duplicate_in_flight =
// "hold") waits for a person.
enum class HoldReason {
  budget,
  ambiguous_submit,
  operator_request,
  duplicate_in_flight,
  duplicate
};

std::string_view to_string(JobState state) noexcept;
std::optional<JobState> parse_job_state(std::string_view name) noexcept;
std::string_view to_string(HoldReason reason) noexcept;
std::optional<HoldReason> parse_hold_reason(std::string_view name) noexcept;

// delivered, failed and cancelled: nothing more happens to the job.
bool is_final(JobState state) noexcept;
// Whether the store accepts from -> to. deferred/held -> X is allowed only back to the
// state the job was parked from (checked by the store, which knows it) or to failed/cancelled.
bool is_allowed_transition(JobState from, JobState to) noexcept;

}  // namespace lipsyncd::spool
