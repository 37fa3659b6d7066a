// Fleet mode's leases, for every backend: which node may act on a job, the fencing token
// checked inside every transition, the scheduler's pickup of due and abandoned jobs, and the
// heartbeat that keeps a live node's leases its own.

#include "lipsyncd/spool/job_store.hpp"

namespace lipsyncd::spool {
namespace {

[[noreturn]] void throw_lease_lost(const JobRecord& job, const std::string& why) {
  throw Error(std::string(kLeaseLostReason), "job " + job.id + ": " + why,
              "nothing to do: the node holding the job goes on with it", Permanence::permanent);
}

// Parked and final jobs are nobody's: any node takes them up when they are due again.
bool needs_holder(JobState state) {
  return !is_final(state) && state != JobState::deferred && state != JobState::held;
}

}  // namespace

bool JobStore::may_take(const JobRecord& job) const {
  return job.lease.node.empty() || job.lease.node == settings_.node || !job.lease.expires_at ||
         *job.lease.expires_at <= now();
}

std::optional<std::int64_t> JobStore::held_token(const JobId& id) const {
  std::lock_guard lock(leases_mutex_);
  const auto held = held_leases_.find(id);
  if (held == held_leases_.end()) return std::nullopt;
  return held->second;
}

void JobStore::check_or_take_lease(JobRecord& job) const {
  if (settings_.node.empty()) {
    // A person's command: whatever node held the job loses it (its next write is refused),
    // so a retry or cancel wins over work in flight.
    job.lease = JobLease{.node = "", .token = job.lease.token + 1, .expires_at = std::nullopt};
    return;
  }
  if (const auto token = held_token(job.id)) {
    if (job.lease.node != settings_.node || job.lease.token != *token) {
      throw_lease_lost(job, job.lease.node.empty()
                                ? "its lease was revoked (a person's retry or cancel)"
                                : "node " + job.lease.node + " took it over");
    }
    return;
  }
  if (!may_take(job)) throw_lease_lost(job, "node " + job.lease.node + " is working on it");
  job.lease.node = settings_.node;
  job.lease.token += 1;
}

void JobStore::settle_lease(JobRecord& job) const {
  // A lease revoked in this transition (a person's command, a segment changed by its parent)
  // stays nobody's.
  if (needs_holder(job.state) && !job.lease.node.empty()) {
    job.lease.expires_at = now() + settings_.lease;
  } else {
    job.lease.node.clear();
    job.lease.expires_at.reset();
  }
}

void JobStore::forget_lease(const JobId& id) {
  std::lock_guard lock(leases_mutex_);
  held_leases_.erase(id);
}

void JobStore::remember_lease(const JobRecord& job) {
  std::lock_guard lock(leases_mutex_);
  if (!settings_.node.empty() && job.lease.node == settings_.node) {
    held_leases_[job.id] = job.lease.token;
  } else {
    held_leases_.erase(job.id);
  }
}

JobRecord JobStore::fenced(const JobId& id, const std::string& detail, const Change& change) {
  try {
    auto job = transition(id, detail, change);
    remember_lease(job);
    return job;
  } catch (const Error& e) {
    if (e.reason_code() == kLeaseLostReason) forget_lease(id);
    throw;
  }
}

JobRecord JobStore::hold_ambiguous_submit(const JobRecord& job, const std::string& why) {
  // The intent was persisted and the POST may have reached fal, but no request id came back.
  // fal has no idempotency key: submitting again could pay twice. A person decides.
  return hold(job.id, HoldReason::ambiguous_submit,
              why +
                  " between deciding to submit and fal's answer; check fal's dashboard, then "
                  "`lipsyncd retry " +
                  job.id + "` to submit again or `lipsyncd cancel " + job.id + "`");
}

Pickup JobStore::take_due_jobs(std::size_t take_limit) {
  Pickup pickup;
  if (settings_.node.empty()) return pickup;
  const TimePoint at = now();
  for (auto& [job, taken_from] :
       lease_due_jobs(settings_.node, at, at + settings_.lease, take_limit)) {
    remember_lease(job);
    const bool taken_over = !taken_from.empty() && taken_from != settings_.node;
    if (job.state == JobState::submitting && taken_over) {
      pickup.needs_attention.push_back(
          {hold_ambiguous_submit(job, "node " + taken_from + " went silent"), taken_from});
      continue;
    }
    if (taken_over) pickup.taken_over.push_back({job, taken_from});
    pickup.due.push_back(std::move(job));
  }
  return pickup;
}

void JobStore::renew_leases() {
  if (settings_.node.empty()) return;
  const TimePoint at = now();
  write_heartbeat(settings_.node, at, at + settings_.lease, started_at_);
}

}  // namespace lipsyncd::spool
