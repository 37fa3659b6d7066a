#pragma once
// The crash-safe job store: one SQLite database (WAL, synchronous=FULL) in the state folder
// plus one spool folder per job holding its inputs. Every transition is committed (and
// fsynced) when the call returns, so the daemon calls the store FIRST and then acts.
// Thread-safe; other processes (`lipsyncd status|retry|cancel`) may open the same store.
// Every failure to read or write throws lipsyncd::Error; an illegal transition throws
// lipsyncd::Error with reason "illegal_transition" (a bug in the caller).

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "lipsyncd/core/error.hpp"
#include "lipsyncd/core/job_request.hpp"
#include "lipsyncd/spool/job_record.hpp"
#include "lipsyncd/spool/spend_ledger.hpp"

namespace lipsyncd::spool {

class Database;
struct ClaimManifest;

// The seam for time: tests pass a fake clock and never sleep.
using Clock = std::function<TimePoint()>;
inline TimePoint system_now() {
  return std::chrono::system_clock::now();
}

struct JobStoreSettings {
  std::filesystem::path state_dir;  // holds jobs.sqlite3 and spool/<job_id>/
  std::string default_model;        // part of the content hash when a job names no model
  Clock clock = system_now;
};

struct ClaimResult {
  JobRecord job;
  bool copied_across_filesystems = false;  // some input was copied + fsynced + unlinked
};

// What start-up found. Every unfinished job is in exactly one list.
struct Recovery {
  std::vector<JobRecord> poll;             // stage submitted (also deferred there): request_id
                                           // known, poll/stream only, never submit again
  std::vector<JobRecord> resume;           // accepted, prepared, uploaded, completed, deferred
  std::vector<JobRecord> held;             // held for the budget (re-check) or a person
  std::vector<JobRecord> needs_attention;  // were `submitting` without a request_id: the POST
                                           // may have reached fal; now held(ambiguous_submit)
  std::vector<JobId> reclaimed;            // spool folders of claims interrupted by a crash,
                                           // finished and inserted now (they are in resume)
  int removed_temporaries = 0;             // hidden *.tmp of writes a kill -9 interrupted
  int tidied_folders = 0;                  // spool folders of final jobs removed
};

// The duplicate guard's verdict for a job about to be prepared (see claim_content()).
enum class ContentVerdict {
  proceed,          // no twin: this job holds the content claim and may go to fal
  reuse_delivered,  // a twin was delivered within the window: copy its result, pay nothing
  wait_for_twin,    // a twin is in flight: wait for it (or hold) instead of paying twice
};
struct ContentClaim {
  ContentVerdict verdict = ContentVerdict::proceed;
  std::optional<JobRecord> twin;  // the delivered job, or the one in flight
};

// One line of `lipsyncd status`.
struct JobStatusRow {
  JobId id;
  std::string name;
  JobState state = JobState::accepted;
  JobState stage = JobState::accepted;  // resume_state while deferred/held, else state
  std::optional<HoldReason> hold_reason;
  int attempts = 0;
  std::chrono::seconds age{0};           // since the claim
  std::chrono::seconds in_state_for{0};  // since the last transition
  std::optional<TimePoint> next_attempt_at;
  std::string request_id;
  std::string reason_code;  // why it is deferred, held or failed; empty otherwise
  std::string message;
};

class JobStore {
 public:
  // Creates the state folder and the database if needed, migrates the schema
  // (PRAGMA user_version). Does not recover: call recover() once, at daemon start.
  explicit JobStore(JobStoreSettings settings);
  ~JobStore();
  JobStore(const JobStore&) = delete;
  JobStore& operator=(const JobStore&) = delete;

  // ── claim ────────────────────────────────────────────────────────────────────────────────
  // Moves the request's files from the inbox into state/spool/<new id>/ and inserts the job
  // as `accepted`, crash-safely: a claim manifest is written (fsynced) in the job folder
  // before any file moves, so recover() finishes a claim interrupted at any point. Renames
  // when possible; across filesystems copies, fsyncs, renames, then unlinks the original.
  // Reads every input once to compute the content hash (may take seconds for huge files:
  // call it off the io_context thread). Throws "input_vanished" (permanent) when a file is
  // gone, "disk_error" (transient) when it cannot be moved.
  ClaimResult claim(const JobRequest& request);

  // ── transitions (each one transaction; throws "illegal_transition", "unknown_job") ─────
  JobRecord mark_prepared(const JobId& id, const JobPlan& plan);
  JobRecord mark_uploaded(const JobId& id, const JobUploads& uploads);
  // The intent to POST, persisted before the POST. Records the plan's estimate in the ledger.
  JobRecord mark_submitting(const JobId& id, const std::string& endpoint);
  // fal accepted the submit: from now on the job is only ever polled.
  JobRecord mark_submitted(const JobId& id, const std::string& request_id,
                           const RequestUrls& urls = {});
  // The result is known; billed_usd (if any) replaces the estimate in the ledger. Also the
  // way a duplicate takes an earlier job's result (from accepted or prepared).
  JobRecord mark_completed(const JobId& id, const JobResult& result);
  JobRecord mark_delivered(const JobId& id, const std::vector<std::filesystem::path>& paths);

  // Transient failure: retry at `retry_at`, resuming the current stage (from submitting only
  // when the caller KNOWS the POST never left: resumes `uploaded`, the estimate is dropped).
  // A wait that is nobody's fault (a full disk) does not use up one of the job's attempts.
  enum class AttemptCount { counts, free };
  JobRecord defer(const JobId& id, const JobError& error, TimePoint retry_at,
                  AttemptCount count = AttemptCount::counts);
  // Park the job; it resumes its current stage on resume() (submitting resumes `uploaded`:
  // a person decided to submit again). The message is kept as the job's error, with reason
  // "budget_exceeded", "ambiguous_submit" or "held_by_operator", so `status` can show it.
  JobRecord hold(const JobId& id, HoldReason reason, const std::string& message);
  // deferred/held -> the stage it was parked from.
  JobRecord resume(const JobId& id);
  // Final. From submitting, fal refused the POST (so nothing is billed: estimate dropped).
  JobRecord fail(const JobId& id, const JobError& error);
  JobRecord cancel(const JobId& id, const std::string& why);
  // `lipsyncd retry ID`: deferred -> due now; held -> resume(); failed -> with attempts reset:
  // `completed` when it has a result (delivered again, downloaded again if needed),
  // `submitted` when fal has its request (polled), else `accepted` (a fresh start). The caller
  // must first bring the inputs back into the spool folder if it moved them to error/.
  // Throws "illegal_transition" for other states.
  //
  // The store's rule against paying twice: once a job has a request id or a paid result
  // (JobRecord::has_paid_request), no transition may forget them or go back before
  // `submitted` ("illegal_transition"), whoever asks: retry, recovery or a person.
  JobRecord retry(const JobId& id);

  // ── queries ──────────────────────────────────────────────────────────────────────────────
  std::optional<JobRecord> find(const JobId& id) const;
  JobRecord get(const JobId& id) const;  // throws "unknown_job"
  std::vector<JobEvent> history(const JobId& id) const;
  std::vector<JobRecord> unfinished() const;  // every job not delivered/failed/cancelled
  std::vector<JobRecord> due_deferred(TimePoint now) const;  // deferred, next_attempt_at <= now
  std::optional<TimePoint> next_deferred_at() const;         // earliest pending retry
  std::vector<JobRecord> held_for_budget() const;
  // The newest job with the same content hash delivered within `window` before now, never
  // `except` itself. A window of 0 turns the guard off (nothing is found).
  std::optional<JobRecord> find_delivered_duplicate(const std::string& content_hash,
                                                    std::chrono::seconds window,
                                                    const JobId& except = {}) const;
  // The duplicate guard, decided in ONE transaction so that two copies of the same content
  // (same hash) can never both go to fal, however many jobs prepare in parallel and whichever
  // process asks. With a window of 0 (or no hash) the guard is off: always `proceed`.
  // In order: a twin delivered within `window` whose video is still where it was delivered
  // -> reuse_delivered; another unfinished twin holding the content claim or past `accepted`
  // -> wait_for_twin; else this job takes the content claim -> proceed.
  ContentClaim claim_content(const JobId& id, std::chrono::seconds window);
  // Jobs held as duplicate_in_flight whose twin is no longer in flight (delivered, failed or
  // cancelled): resumed to `accepted`, where claim_content() decides again, and returned.
  std::vector<JobRecord> release_duplicate_waits();
  // Unfinished jobs plus the last `recent_finished` finished ones, oldest first.
  std::vector<JobStatusRow> status(std::size_t recent_finished = 20) const;
  // Every job in the store by state; with `changed_since`, only those whose last transition
  // is that recent (finished today, say).
  std::map<JobState, int> count_by_state(std::optional<TimePoint> changed_since = {}) const;
  std::map<HoldReason, int> count_held_by_reason() const;
  // Jobs in `state` by the reason code of their error, in one query (a job without one counts
  // under ""); with `stage`, only those parked from that stage: count_by_reason(deferred,
  // completed) counts the paid results waiting for the outbox (delivery_blocked, disk_full).
  std::map<std::string, int> count_by_reason(JobState state,
                                             std::optional<JobState> stage = {}) const;
  // When the oldest unfinished job (held and deferred ones included) was claimed.
  std::optional<TimePoint> oldest_unfinished_since() const;

  const SpendLedger& ledger() const { return *ledger_; }
  TimePoint now() const { return settings_.clock(); }
  const std::filesystem::path& spool_root() const { return spool_root_; }

  // ── recovery (once, at daemon start, before intake runs) ───────────────────────────────
  // Finishes interrupted claims, parks ambiguous submits, removes the temporaries of
  // interrupted writes and the leftovers of final jobs, and lists every unfinished job.
  Recovery recover();

 private:
  // One transaction: loads the job, lets `change` edit it and name the target state, checks
  // the arrow, writes the row and the history event.
  JobRecord transition(const JobId& id, const std::string& detail,
                       const std::function<JobState(JobRecord&)>& change);
  ClaimResult finish_claim(const ClaimManifest& manifest);
  std::vector<JobId> reclaim_interrupted_claims();
  void sweep_spool_folders(Recovery& recovery);

  JobStoreSettings settings_;
  std::filesystem::path spool_root_;
  std::unique_ptr<Database> database_;
  std::unique_ptr<SpendLedger> ledger_;
  mutable std::mutex mutex_;
};

}  // namespace lipsyncd::spool
