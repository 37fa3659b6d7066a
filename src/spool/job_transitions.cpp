// The state machine as the store enforces it, for every backend: what each named transition
// changes in the record and the ledger, and the rules checked before it is written (the
// arrows of job_state.cpp, the way parked jobs come back, and the rule against paying twice).

#include "lipsyncd/core/number_format.hpp"
#include "lipsyncd/spool/job_store.hpp"

namespace lipsyncd::spool {
namespace fs = std::filesystem;
namespace {

[[noreturn]] void throw_illegal(const JobRecord& job, JobState to) {
  std::string from(to_string(job.state));
  if (job.resume_state) from += " (parked from " + std::string(to_string(*job.resume_state)) + ")";
  throw Error("illegal_transition",
              "job " + job.id + " cannot go from " + from + " to " + std::string(to_string(to)),
              "this is a bug in lipsyncd: report it with the job's history", Permanence::permanent);
}

// Once fal has a request of the job (or its result), going back before `submitted` or
// forgetting the request could only lead to a second POST: a second payment.
[[noreturn]] void throw_would_pay_twice(const JobRecord& job, JobState to) {
  throw Error("illegal_transition",
              "job " + job.id + " cannot go to " + std::string(to_string(to)) +
                  ": fal already has its request" +
                  (job.request_id.empty() ? std::string() : " " + job.request_id) +
                  ", and submitting it again would pay twice",
              "`lipsyncd retry` polls, downloads and delivers it; to run the same inputs again, "
              "drop them into the inbox again",
              Permanence::permanent);
}

bool is_before_submitted(JobState state) {
  return state == JobState::accepted || state == JobState::prepared ||
         state == JobState::uploaded || state == JobState::submitting;
}

// Where a parked job continues. A job parked from `submitting` did not get a request id:
// continuing it means a new POST, which only happens from `uploaded`.
JobState parked_stage(JobState from) {
  return from == JobState::submitting ? JobState::uploaded : from;
}

std::string hold_reason_code(HoldReason reason) {
  switch (reason) {
    case HoldReason::budget:
      return "budget_exceeded";
    case HoldReason::ambiguous_submit:
      return "ambiguous_submit";
    case HoldReason::operator_request:
      return "held_by_operator";
    case HoldReason::duplicate_in_flight:
      return "duplicate_in_flight";
    case HoldReason::duplicate:
      return "duplicate";
  }
  return "held";
}

std::string describe_error(const JobError& error) {
  return error.stage + ": " + error.reason_code + ": " + error.message;
}

}  // namespace

JobState JobStore::apply_change(JobRecord& job, SpendLedger& spend, const Change& change,
                                LeaseRule lease_rule) const {
  const JobState from = job.state;
  const std::optional<JobState> parked_from = job.resume_state;
  const bool paid_before = job.has_paid_request();
  if (lease_rule == LeaseRule::revoke) {
    job.lease = JobLease{.node = "", .token = job.lease.token + 1, .expires_at = std::nullopt};
  } else {
    check_or_take_lease(job);
  }
  const JobState to = change(job, spend);
  // First, so that the refusal names the real danger.
  if (paid_before && (!job.has_paid_request() || is_before_submitted(to))) {
    throw_would_pay_twice(job, to);
  }
  if (!is_allowed_transition(from, to)) throw_illegal(job, to);
  // The arrows only a long-form job (segmented) or a segment (failed -> prepared) may take.
  const bool long_form = job.plan && job.plan->is_long_form();
  if ((to == JobState::segmented && !long_form) ||
      (from == JobState::failed && to == JobState::prepared && !job.is_segment())) {
    throw_illegal(job, to);
  }
  const bool parked = from == JobState::deferred || from == JobState::held;
  const bool leaving_for_good = to == JobState::failed || to == JobState::cancelled;
  if (parked && !leaving_for_good && parked_from != to) {
    throw_illegal(job, to);
  }
  if (to != JobState::deferred && to != JobState::held) {
    job.resume_state.reset();
    job.hold_reason.reset();
    job.next_attempt_at.reset();
  }
  const TimePoint at = now();
  job.state = to;
  job.updated_at = at;
  job.entered_at[to] = at;
  settle_lease(job);
  return from;
}

JobRecord JobStore::mark_prepared(const JobId& id, const JobPlan& plan) {
  return fenced(id,
                std::string(to_string(plan.sync_mode)) + " (" + plan.reason + "), " +
                    seconds_text(plan.output_s) + ", est. " + usd_text(plan.estimated_usd),
                [&](JobRecord& job, SpendLedger&) {
                  job.plan = plan;
                  return JobState::prepared;
                });
}

JobRecord JobStore::mark_uploaded(const JobId& id, const JobUploads& uploads) {
  return fenced(id, "inputs uploaded", [&](JobRecord& job, SpendLedger&) {
    job.uploads = uploads;
    return JobState::uploaded;
  });
}

JobRecord JobStore::mark_submitting(const JobId& id, const std::string& endpoint,
                                    const std::optional<BudgetConfig>& cap) {
  return fenced(id, "submit intent: " + endpoint, [&](JobRecord& job, SpendLedger& spend) {
    if (job.state != JobState::uploaded) return JobState::submitting;  // refused
    job.endpoint = endpoint;
    job.submit_intent = true;
    if (job.is_segment()) return JobState::submitting;  // its parent reserved the whole job
    const double estimate = job.plan ? job.plan->estimated_usd : 0.0;
    if (auto breach = spend.reserve(job.id, now(), estimate, cap)) {
      throw BudgetExceeded(std::move(*breach));  // rolls the transaction back
    }
    return JobState::submitting;
  });
}

JobRecord JobStore::mark_submitted(const JobId& id, const std::string& request_id,
                                   const RequestUrls& urls) {
  if (request_id.empty()) {
    throw Error("illegal_transition", "job " + id + ": submitted needs fal's request id",
                "this is a bug in lipsyncd");
  }
  return fenced(id, "request_id " + request_id, [&](JobRecord& job, SpendLedger&) {
    job.request_id = request_id;
    job.request_urls = urls;
    return JobState::submitted;
  });
}

JobRecord JobStore::mark_completed(const JobId& id, const JobResult& result) {
  const std::string detail =
      result.duplicate_of ? "duplicate of " + *result.duplicate_of : "result " + result.url;
  return fenced(id, detail, [&](JobRecord& job, SpendLedger& spend) {
    job.result = result;
    // A segment's cost is in its parent's entry: an entry of its own would count it twice.
    if (result.billed_usd && !job.is_segment()) spend.charge(job.id, now(), *result.billed_usd);
    return JobState::completed;
  });
}

JobRecord JobStore::mark_delivered(const JobId& id, const std::vector<fs::path>& paths) {
  std::string detail = "delivered";
  for (const auto& path : paths) detail += " " + path.string();
  return fenced(id, detail, [&](JobRecord& job, SpendLedger&) {
    job.delivered_paths = paths;
    return JobState::delivered;
  });
}

JobRecord JobStore::defer(const JobId& id, const JobError& error, TimePoint retry_at,
                          AttemptCount count) {
  return fenced(id, describe_error(error), [&](JobRecord& job, SpendLedger& spend) {
    if (job.state == JobState::submitting) {
      // The caller knows the POST never left: nothing can be billed for this attempt (a
      // segment's share stays in its parent's entry: the parent still buys it).
      job.submit_intent = false;
      if (!job.is_segment()) spend.release(job.id);
    }
    if (job.state != JobState::deferred && job.state != JobState::held) {
      job.resume_state = parked_stage(job.state);
    }
    if (count == AttemptCount::counts) job.attempts += 1;
    job.next_attempt_at = retry_at;
    job.error = error;
    return JobState::deferred;
  });
}

JobRecord JobStore::hold(const JobId& id, HoldReason reason, const std::string& message) {
  return fenced(id, std::string(to_string(reason)) + ": " + message,
                [&](JobRecord& job, SpendLedger&) {
                  if (job.state != JobState::deferred && job.state != JobState::held) {
                    job.resume_state = parked_stage(job.state);
                  }
                  job.hold_reason = reason;
                  job.error = JobError{std::string(to_string(*job.resume_state)),
                                       hold_reason_code(reason), message, ""};
                  return JobState::held;
                });
}

JobRecord JobStore::resume(const JobId& id) {
  return fenced(id, "resumed", [&](JobRecord& job, SpendLedger&) {
    if (!job.resume_state) return job.state;  // refused: not parked
    const JobState to = *job.resume_state;
    if (to == JobState::uploaded) job.submit_intent = false;
    return to;
  });
}

JobRecord JobStore::fail(const JobId& id, const JobError& error) {
  return fenced_with_segments(id, [&](Rows& rows, JobRecord& job, std::vector<JobRecord>& segments,
                                      std::vector<JobRecord>& changed) {
    write_transition(
        rows, job, describe_error(error),
        [&](JobRecord& failing, SpendLedger& spend) {
          if (failing.state == JobState::submitting) {
            failing.submit_intent = false;  // fal refused the POST: nothing is billed
            if (!failing.is_segment()) spend.release(failing.id);
          }
          failing.error = error;
          return JobState::failed;
        },
        LeaseRule::fenced);
    // Only the segments that cannot have cost anything stop with it: those fal has (or may
    // have) finish, so that a retry delivers them without paying again.
    const JobError stopped{
        "segment", "parent_failed",
        "job " + job.id + " failed (" + error.reason_code + "): this segment was not submitted",
        "`lipsyncd retry " + job.id + "` goes on with the segments"};
    for (auto& segment : segments) {
      if (is_final(segment.state) || segment.has_paid_request() || segment.submit_intent) continue;
      write_transition(
          rows, segment, describe_error(stopped),
          [&](JobRecord& stopping, SpendLedger&) {
            stopping.error = stopped;
            return JobState::failed;
          },
          LeaseRule::revoke);
      changed.push_back(segment);
    }
    settle_segmented_spend(rows.ledger(), job, segments);
  });
}

JobRecord JobStore::cancel(const JobId& id, const std::string& why) {
  return fenced_with_segments(id, [&](Rows& rows, JobRecord& job, std::vector<JobRecord>& segments,
                                      std::vector<JobRecord>& changed) {
    const Change cancel_job = [](JobRecord&, SpendLedger&) { return JobState::cancelled; };
    write_transition(rows, job, "cancelled: " + why, cancel_job, LeaseRule::fenced);
    for (auto& segment : segments) {
      if (is_final(segment.state)) continue;
      write_transition(rows, segment, "cancelled: job " + job.id + " was cancelled: " + why,
                       cancel_job, LeaseRule::revoke);
      changed.push_back(segment);
    }
    settle_segmented_spend(rows.ledger(), job, segments);
  });
}

namespace {

// `lipsyncd retry` of one job (see JobStore::retry()). `has_segments`: a long-form job whose
// segments exist, which goes on with them rather than starting over.
JobState retried_state(JobRecord& job, bool has_segments) {
  if (job.state == JobState::deferred || job.state == JobState::held) {
    const JobState to = job.resume_state.value_or(JobState::accepted);
    if (to == JobState::uploaded) job.submit_intent = false;
    return to;
  }
  if (job.state != JobState::failed) return job.state;  // refused: not parked and not failed
  job.attempts = 0;
  job.error.reset();
  if (job.has_paid_request()) {
    // Paid already: deliver the result it has (downloading it again when the spool copy is
    // gone), or poll fal for the request it made. Never a second submit.
    return job.result ? JobState::completed : JobState::submitted;
  }
  // Nothing paid yet.
  job.uploads.reset();
  job.request_id.clear();
  job.request_urls = {};
  job.endpoint.clear();
  job.submit_intent = false;
  job.result.reset();
  // A segment's inputs are cut already: upload and submit them again.
  if (job.is_segment()) return JobState::prepared;
  // A long-form job goes on with its segments: only the unfinished ones run.
  if (has_segments) return JobState::segmented;
  // Any other job starts afresh: prepare, upload and submit again.
  job.plan.reset();
  return JobState::accepted;
}

bool is_waiting_for_retry(const JobRecord& job) {
  return job.state == JobState::failed || job.state == JobState::held ||
         job.state == JobState::deferred;
}

}  // namespace

JobRecord JobStore::retry(const JobId& id) {
  return fenced_with_segments(id, [&](Rows& rows, JobRecord& job, std::vector<JobRecord>& segments,
                                      std::vector<JobRecord>& changed) {
    const bool has_segments = !segments.empty();
    if (has_segments && job.state == JobState::segmented) {
      keep_lease(rows, job);  // running already: only its waiting segments are retried
    } else {
      write_transition(
          rows, job, "retry requested",
          [&](JobRecord& retried, SpendLedger& spend) {
            const bool was_failed = retried.state == JobState::failed;
            const JobState to = retried_state(retried, has_segments);
            if (was_failed && to == JobState::segmented) {
              // It buys the rest of its segments: the whole purchase counts again, from now.
              spend.reserve(retried.id, now(), retried.plan->estimated_usd, std::nullopt);
            }
            return to;
          },
          LeaseRule::fenced);
    }
    if (job.state != JobState::segmented) return;  // delivered again, or parked before it
    for (auto& segment : segments) {
      if (!is_waiting_for_retry(segment)) continue;
      write_transition(
          rows, segment, "retry requested with job " + job.id,
          [](JobRecord& retried, SpendLedger&) { return retried_state(retried, false); },
          LeaseRule::revoke);
      changed.push_back(segment);
    }
  });
}

std::vector<JobRecord> JobStore::release_duplicate_waits() {
  std::vector<JobRecord> released;
  for (const auto& job : duplicate_waits_without_twin()) {
    try {
      released.push_back(fenced(job.id, "resumed: its twin is no longer in flight",
                                [](JobRecord& parked, SpendLedger&) {
                                  return parked.resume_state.value_or(parked.state);
                                }));
    } catch (const Error& e) {
      // Cancelled or retried meanwhile, or another node released it first.
      if (e.reason_code() != "illegal_transition" && e.reason_code() != kLeaseLostReason) throw;
    }
  }
  return released;
}

}  // namespace lipsyncd::spool
