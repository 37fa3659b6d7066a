#pragma once
// The crash-safe job store: one database (SQLite, WAL, synchronous=FULL, in the state folder)
// plus one spool folder per job holding its inputs. Every transition is committed (and
// fsynced) when the call returns, so the daemon calls the store FIRST and then acts.
// Thread-safe; other processes (`lipsyncd status|retry|cancel`) may open the same store.
// Every failure to read or write throws lipsyncd::Error; an illegal transition throws
// lipsyncd::Error with reason "illegal_transition" (a bug in the caller).
// Fleet mode: a daemon's store has a node name and leases the jobs it works on; a transition
// on a job another live node holds, or that was taken from this node (its lease expired, or
// a person's `retry`/`cancel` revoked it), throws "lease_lost": the caller stops acting on
// the job and leaves it to its holder.

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lipsyncd/core/error.hpp"
#include "lipsyncd/core/job_request.hpp"
#include "lipsyncd/spool/job_record.hpp"
#include "lipsyncd/spool/spend_ledger.hpp"

namespace lipsyncd::spool {

struct ClaimManifest;

// Reason codes callers act on. A store that cannot reach its database (a fleet's PostgreSQL
// restarting) throws the first, transient: nothing was written, try again later. The second
// is explained above: the job belongs to another node now.
inline constexpr std::string_view kStoreUnreachableReason = "store_unreachable";
inline constexpr std::string_view kLeaseLostReason = "lease_lost";
inline constexpr std::string_view kClaimedElsewhereReason = "claimed_elsewhere";

// The seam for time: tests pass a fake clock and never sleep.
using Clock = std::function<TimePoint()>;
inline TimePoint system_now() {
  return std::chrono::system_clock::now();
}

struct JobStoreSettings {
  std::filesystem::path state_dir;  // holds jobs.sqlite3 and spool/<job_id>/
  std::string default_model;        // part of the content hash when a job names no model
  Clock clock = system_now;
  std::filesystem::path inbox_dir{};  // claims are keyed by the inbox-relative path
  // Fleet mode (`[store] url`, `[fleet]`): empty url is SQLite in state_dir; a
  // postgresql:// url is a PostgreSQL database shared by every node.
  std::string url{};  // {}: callers may leave it out of a braced initialiser
  // This process's node name: it leases the jobs it works on under this name. Empty for an
  // operator's command (`status`, `retry`, `cancel`), which holds no leases.
  std::string node{};
  std::chrono::seconds lease{30};  // a silent node's jobs stay its own this long
};

struct ClaimResult {
  JobRecord job;
  bool copied_across_filesystems = false;  // some input was copied + fsynced + unlinked
};

// What start-up found. Every unfinished job is in exactly one list.
struct Recovery {
  std::vector<JobRecord> poll;             // stage submitted (also deferred there): request_id
                                           // known, poll/stream only, never submit again
  std::vector<JobRecord> resume;           // accepted, prepared, uploaded, segmented (a
                                           // long-form job: check its segments), completed,
                                           // deferred
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
  std::string node;  // the node working on it (fleet mode); empty when nobody is
  // A long-form job: how many segments it has (0: not segmented yet, or not long-form) and
  // how many of them are delivered (their outputs ready for the stitch).
  int segments_total = 0;
  int segments_delivered = 0;
  std::optional<JobSegment> segment;  // a segment's row: of which job, which part
};

// One node of the fleet as the store last heard from it.
struct NodeHeartbeat {
  std::string node;
  TimePoint heartbeat_at{};
  TimePoint started_at{};
  int leased_jobs = 0;  // jobs it holds now
};

// A job leased to this node, and the node that held it before (empty: nobody).
struct LeasedJob {
  JobRecord job;
  std::string taken_from;
};

// What the scheduler's pickup found (see take_due_jobs()).
struct Pickup {
  std::vector<JobRecord> due;              // leased to this node now, ready to run
  std::vector<LeasedJob> taken_over;       // of those, the ones another node's lease expired on
  std::vector<LeasedJob> needs_attention;  // a dead node was submitting them: now held
};

// The job store's operations, whatever keeps the rows. The spool folders, the claim
// protocol, the transition rules (including the rule against paying twice) and recovery are
// the same for every backend and live here; a backend (SqliteJobStore, PostgresJobStore; see
// open_job_store()) keeps the rows, answers the queries and runs each change as one
// transaction.
class JobStore {
 public:
  virtual ~JobStore();
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
  // Fleet mode: the same arbitration for files intake refuses, so that one node, not every
  // node that saw them, moves them to error/. False when another node is doing it; throws
  // "input_vanished" when a file is gone already.
  bool claim_for_rejection(const std::vector<std::filesystem::path>& files);

  // ── transitions (each one transaction; throws "illegal_transition", "unknown_job",
  //    "lease_lost") ─────────────────────────────────────────────────────────────────────
  JobRecord mark_prepared(const JobId& id, const JobPlan& plan);
  JobRecord mark_uploaded(const JobId& id, const JobUploads& uploads);
  // The intent to POST, persisted before the POST. Reserves the plan's estimate in the
  // ledger. With a `cap`, checking the budget and reserving are one transaction (two
  // processes racing for the last dollar cannot both pass): when the estimate would break the
  // cap, nothing changes and BudgetExceeded is thrown. A segment reserves nothing (its parent
  // reserved the whole purchase in start_segments(); `cap` is not looked at): only the
  // intent is written.
  JobRecord mark_submitting(const JobId& id, const std::string& endpoint,
                            const std::optional<BudgetConfig>& cap = std::nullopt);
  // fal accepted the submit: from now on the job is only ever polled.
  JobRecord mark_submitted(const JobId& id, const std::string& request_id,
                           const RequestUrls& urls = {});
  // The result is known; billed_usd (if any) replaces the estimate in the ledger. Also the
  // way a duplicate takes an earlier job's result (from accepted or prepared). A segment's
  // billed amount stays on its result only (its parent's entry counts the whole purchase; the
  // parent's own mark_completed may carry the segments' billed sum).
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
  // A long-form job (see start_segments()) fails in one transaction with its segments that
  // can have cost nothing yet (no request id, no submit intent: they fail as "parent_failed"
  // and are never submitted); segments fal has (or may have) are left to finish, and the
  // job's reservation shrinks to what they cost (billed, else estimated), or is released
  // when there are none.
  JobRecord fail(const JobId& id, const JobError& error);
  // Final. A long-form job is cancelled with every unfinished segment (each a transition), and
  // its reservation shrinks as in fail().
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
  //
  // A long-form job (failed without a stitched result, held, deferred, or still segmented)
  // goes (back) to `segmented`, its plan and segments kept, the whole estimate reserved
  // again when it had failed; in the same transaction every failed, held or deferred segment
  // is retried by the segment rule: parked -> its stage; failed with a paid request -> polled
  // or delivered as above; failed without -> `prepared` (its inputs are cut already), never
  // `accepted`. retry() of a segment follows the same rule.
  JobRecord retry(const JobId& id);

  // ── long-form jobs: segments run as child jobs ─────────────────────────────────────────
  // A prepared long-form job (plan.segments) starts its segments, in ONE transaction: the
  // job goes prepared -> segmented, the plan's WHOLE estimate is reserved in the ledger under
  // the job's id (with a `cap`: checked first; when it would break the cap nothing changes and
  // BudgetExceeded is thrown, as in mark_submitting()), and one child job per segment is
  // inserted `prepared`: id = job id + "-s" + two-digit index ("...-s01"), its inputs the
  // segment's files, its folder spool_dir/segments/NN/ (created), sync mode cut_off, the
  // parent's name and options, no content hash (the duplicate guard never sees segments),
  // nobody's lease (any node may run it). Fenced like any transition on the parent. Called
  // again on a segmented job (a retry after a crash) it inserts nothing twice and returns it.
  // Throws "illegal_transition" for a job that is not prepared or has no segments.
  JobRecord start_segments(const JobId& parent,
                           const std::optional<BudgetConfig>& cap = std::nullopt);
  // The segments of a long-form job, by index (empty for any other job).
  virtual std::vector<JobRecord> segments_of(const JobId& parent) const = 0;
  // A segment's id: "<parent>-s01".
  static JobId segment_id(const JobId& parent, int index);

  // ── queries ──────────────────────────────────────────────────────────────────────────────
  virtual std::optional<JobRecord> find(const JobId& id) const = 0;
  JobRecord get(const JobId& id) const;  // throws "unknown_job"
  virtual std::vector<JobEvent> history(const JobId& id) const = 0;
  virtual std::vector<JobRecord> unfinished() const = 0;  // not delivered/failed/cancelled
  // deferred, next_attempt_at <= now
  virtual std::vector<JobRecord> due_deferred(TimePoint now) const = 0;
  virtual std::optional<TimePoint> next_deferred_at() const = 0;  // earliest pending retry
  virtual std::vector<JobRecord> held_for_budget() const = 0;
  // The newest job with the same content hash delivered within `window` before now, never
  // `except` itself. A window of 0 turns the guard off (nothing is found).
  virtual std::optional<JobRecord> find_delivered_duplicate(const std::string& content_hash,
                                                            std::chrono::seconds window,
                                                            const JobId& except = {}) const = 0;
  // The duplicate guard, decided in ONE transaction so that two copies of the same content
  // (same hash) can never both go to fal, however many jobs prepare in parallel and whichever
  // process asks. With a window of 0 (or no hash) the guard is off: always `proceed`.
  // In order: a twin delivered within `window` whose video is still where it was delivered
  // -> reuse_delivered; another unfinished twin holding the content claim or past `accepted`
  // -> wait_for_twin; else this job takes the content claim -> proceed.
  virtual ContentClaim claim_content(const JobId& id, std::chrono::seconds window) = 0;
  // Jobs held as duplicate_in_flight whose twin is no longer in flight (delivered, failed or
  // cancelled): resumed to `accepted`, where claim_content() decides again, and returned.
  std::vector<JobRecord> release_duplicate_waits();
  // Unfinished jobs plus the last `recent_finished` finished ones, oldest first.
  std::vector<JobStatusRow> status(std::size_t recent_finished = 20) const;
  // Every job in the store by state; with `changed_since`, only those whose last transition
  // is that recent (finished today, say).
  virtual std::map<JobState, int> count_by_state(
      std::optional<TimePoint> changed_since = {}) const = 0;
  virtual std::map<HoldReason, int> count_held_by_reason() const = 0;
  // Jobs in `state` by the reason code of their error, in one query (a job without one counts
  // under ""); with `stage`, only those parked from that stage: count_by_reason(deferred,
  // completed) counts the paid results waiting for the outbox (delivery_blocked, disk_full).
  virtual std::map<std::string, int> count_by_reason(JobState state,
                                                     std::optional<JobState> stage = {}) const = 0;
  // When the oldest unfinished job (held and deferred ones included) was claimed.
  virtual std::optional<TimePoint> oldest_unfinished_since() const = 0;

  virtual const SpendLedger& ledger() const = 0;
  TimePoint now() const { return settings_.clock(); }
  const std::filesystem::path& spool_root() const { return spool_root_; }

  // ── leases (fleet mode; see JobLease) ───────────────────────────────────────────────────
  // The node's due work: jobs it holds, plus at most `take_limit` ready jobs nobody holds or
  // whose holder's lease expired, taken over with a new fencing token (FOR UPDATE SKIP
  // LOCKED on PostgreSQL: two nodes never take the same job). A taken-over job the dead node
  // was submitting is held as ambiguous_submit, never resent. Operator stores take nothing.
  Pickup take_due_jobs(std::size_t take_limit);
  // The node is alive: pushes the expiry of every lease it holds `lease` ahead and records
  // its heartbeat (for `status`).
  void renew_leases();
  // Every node that ever heartbeat into this store, with its leased job count.
  virtual std::vector<NodeHeartbeat> nodes() const = 0;
  const std::string& node() const { return settings_.node; }
  std::chrono::seconds lease_length() const { return settings_.lease; }
  // The POST may have reached fal, and nobody knows: held for a person, never resent. `why`
  // starts the message ("lipsyncd stopped", "node X went silent").
  JobRecord hold_ambiguous_submit(const JobRecord& job, const std::string& why);

  // ── recovery (once, at daemon start, before intake runs) ───────────────────────────────
  // Finishes interrupted claims, parks ambiguous submits, removes the temporaries of
  // interrupted writes and the leftovers of final jobs, and lists every unfinished job.
  Recovery recover();

 protected:
  // Creates the state folder and its spool folder; the clock is cut to milliseconds (what
  // every backend keeps), so a record handed out equals what a later read returns.
  explicit JobStore(JobStoreSettings settings);
  const JobStoreSettings& settings() const { return settings_; }

  // What a transition does to the job: edits it, writes the ledger through `spend` (in the
  // same transaction) and names the target state.
  using Change = std::function<JobState(JobRecord& job, SpendLedger& spend)>;
  // One transaction: loads the job (throw_unknown_job() if there is none), runs
  // apply_change(), writes the row and the history event, commits.
  virtual JobRecord transition(const JobId& id, const std::string& detail,
                               const Change& change) = 0;
  // The rules every backend applies inside transition(): runs `change`, checks the arrow and
  // the rule against paying twice (throws "illegal_transition"), stamps the new state at
  // now(). Returns the state the job came from. With LeaseRule::revoke (a segment changed
  // by its parent's transition) whatever node held the job loses it, as on a person's command.
  enum class LeaseRule { fenced, revoke };
  JobState apply_change(JobRecord& job, SpendLedger& spend, const Change& change,
                        LeaseRule lease_rule = LeaseRule::fenced) const;

  // One transaction's rows, for the changes that span a long-form job and its segments
  // (job_segments.cpp). A job it loads stays locked until the commit (FOR UPDATE on
  // PostgreSQL; SQLite's IMMEDIATE transaction holds the whole file).
  class Rows {
   public:
    virtual ~Rows() = default;
    virtual std::optional<JobRecord> load(const JobId& id) = 0;
    virtual std::vector<JobRecord> load_segments(const JobId& parent) = 0;  // by index
    virtual void insert(const JobRecord& job) = 0;
    virtual void update(const JobRecord& job) = 0;
    virtual void append_event(const JobId& id, const JobEvent& event) = 0;
    virtual SpendLedger& ledger() = 0;
  };
  // Runs `work` in one transaction and commits (rolls back when it throws).
  virtual void in_transaction(const std::function<void(Rows&)>& work) = 0;
  [[noreturn]] static void throw_unknown_job(const JobId& id);

  // Inserts a freshly claimed (`accepted`) job and its first history event, one transaction.
  virtual void insert_claimed(const JobRecord& job, const std::string& detail) = 0;
  // The database's arbitration between nodes seeing the same drop: records `key` (the inputs'
  // inbox-relative paths and file identities) for `id` unless another claim holds it. Keys
  // older than `forget_before` are dropped first (the files they named left the inbox long
  // ago; a key only guards the moment of the claim).
  virtual bool reserve_claim_key(const std::string& key, const JobId& id, TimePoint now,
                                 TimePoint forget_before) = 0;
  // One transaction: the due jobs `node` holds, plus at most `take_limit` due jobs with no
  // holder or an expired lease (those get lease {node, token + 1, expires_at}). `due` as in
  // take_due_jobs(); returns each job with the node that held it before (empty if none).
  virtual std::vector<LeasedJob> lease_due_jobs(const std::string& node, TimePoint now,
                                                TimePoint expires_at, std::size_t take_limit) = 0;
  virtual void write_heartbeat(const std::string& node, TimePoint now, TimePoint expires_at,
                               TimePoint started_at) = 0;
  // Held as duplicate_in_flight, and no twin in flight any more (see claim_content()).
  virtual std::vector<JobRecord> duplicate_waits_without_twin() const = 0;
  // Every unfinished job and the `limit` most recently changed final ones, read together (a
  // job finishing meanwhile is listed once), in any order.
  virtual std::vector<JobRecord> unfinished_and_recently_finished(std::size_t limit) const = 0;

 private:
  // Every named transition: the backend's transition() with the lease checked (fencing) and
  // taken or given up inside it, and this process's lease tokens updated after the commit.
  JobRecord fenced(const JobId& id, const std::string& detail, const Change& change);
  // fail(), cancel() and retry(): one transaction over the job and (a long-form job) its
  // segments, loaded by index; `change` writes its transitions with write_transition() and
  // lists the segments it changed. The job's lease is fenced as in fenced().
  using FamilyChange =
      std::function<void(Rows& rows, JobRecord& job, std::vector<JobRecord>& segments,
                         std::vector<JobRecord>& changed)>;
  JobRecord fenced_with_segments(const JobId& id, const FamilyChange& change);
  // One transition of a job loaded through `rows`: applied, written, its event appended.
  void write_transition(Rows& rows, JobRecord& job, const std::string& detail, const Change& change,
                        LeaseRule lease_rule);
  // The job unchanged, its lease checked (fenced) and written: no transition, no event.
  void keep_lease(Rows& rows, JobRecord& job) const;
  // A final long-form job's reservation, cut to what its segments cost (see fail()).
  void settle_segmented_spend(SpendLedger& spend, const JobRecord& parent,
                              const std::vector<JobRecord>& segments) const;
  JobRecord segment_record(const JobRecord& parent, const SegmentPlan& segment, int count) const;
  void check_or_take_lease(JobRecord& job) const;
  void settle_lease(JobRecord& job) const;
  void remember_lease(const JobRecord& job);
  void forget_lease(const JobId& id);
  std::optional<std::int64_t> held_token(const JobId& id) const;
  // Whether this node may act on the job: its own, nobody's, or a dead node's.
  bool may_take(const JobRecord& job) const;
  void reserve_claim(const JobRequest& request, const JobId& id);
  // Where this node builds a job folder before renaming it, complete, into the spool.
  std::filesystem::path claiming_folder() const;
  ClaimResult finish_claim(const ClaimManifest& manifest);
  std::vector<JobId> reclaim_interrupted_claims();
  void sweep_spool_folders(Recovery& recovery);

  JobStoreSettings settings_;
  std::filesystem::path spool_root_;
  TimePoint started_at_{};
  mutable std::mutex leases_mutex_;
  std::map<JobId, std::int64_t> held_leases_;  // the tokens this process took its jobs with
};

// Opens the job store: SQLite in the state folder when settings.url is empty, else the
// PostgreSQL database the url names (fleet mode; "bad_config" for a url that is not
// postgresql:// or holds a password, "store_unreachable" when the server cannot be reached).
// Creates and migrates it as needed ("store_too_new" for a newer schema). The spool folders
// are in the state folder either way. Does not recover: call recover() once, at daemon start.
std::unique_ptr<JobStore> open_job_store(JobStoreSettings settings);

}  // namespace lipsyncd::spool
