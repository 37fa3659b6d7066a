#include "lipsyncd/spool/job_store.hpp"

#include <algorithm>
#include <ctime>
#include <random>
#include <set>

#include "claim_manifest.hpp"
#include "content_hash.hpp"
#include "database.hpp"
#include "job_record_codec.hpp"
#include "lipsyncd/core/atomic_file.hpp"
#include "lipsyncd/core/durable_file.hpp"
#include "lipsyncd/core/number_format.hpp"
#include "lipsyncd/spool/spool_cleanup.hpp"
#include "time_codec.hpp"

namespace lipsyncd::spool {
namespace fs = std::filesystem;
namespace {

// Bump with every schema change and add the migration step to migrate().
constexpr int kSchemaVersion = 3;

constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE IF NOT EXISTS jobs (
  id              TEXT PRIMARY KEY,      -- sortable: creation time + random suffix
  name            TEXT NOT NULL,         -- stem, names the outputs
  source          TEXT NOT NULL,         -- same_stem | manifest | folder | command
  state           TEXT NOT NULL,
  resume_state    TEXT,                  -- deferred/held: the stage to continue
  hold_reason     TEXT,
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER,               -- ms since the epoch, UTC
  spool_dir       TEXT NOT NULL,
  inputs          TEXT NOT NULL,         -- JSON: spooled paths + original paths
  options         TEXT NOT NULL,         -- JSON: model, sync_mode, output
  content_hash    TEXT NOT NULL,
  plan            TEXT,                  -- JSON
  uploads         TEXT,                  -- JSON: fal storage URLs
  endpoint        TEXT NOT NULL DEFAULT '',
  request_id      TEXT NOT NULL DEFAULT '',
  submit_intent   INTEGER NOT NULL DEFAULT 0,
  result          TEXT,                  -- JSON
  delivered_paths TEXT NOT NULL DEFAULT '[]',
  error           TEXT,                  -- JSON: stage, reason_code, message, hint
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  entered_at      TEXT NOT NULL DEFAULT '{}'  -- JSON: state -> ms
);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs(state);
CREATE INDEX IF NOT EXISTS jobs_by_hash ON jobs(content_hash);
CREATE TABLE IF NOT EXISTS job_events (
  seq        INTEGER PRIMARY KEY AUTOINCREMENT,
  job_id     TEXT NOT NULL,
  at         INTEGER NOT NULL,
  from_state TEXT,
  to_state   TEXT NOT NULL,
  detail     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS job_events_by_job ON job_events(job_id, seq);
CREATE TABLE IF NOT EXISTS spend (
  job_id        TEXT PRIMARY KEY,
  submitted_at  INTEGER NOT NULL,        -- the period the money counts in
  estimated_usd REAL NOT NULL,
  billed_usd    REAL
);
)sql";

// v2: the duplicate guard's claims. The primary key is the rule "one job per content goes to
// fal at a time": claim_content() takes or checks the row inside one transaction.
constexpr const char* kSchemaV2 = R"sql(
CREATE TABLE IF NOT EXISTS content_claims (
  content_hash TEXT PRIMARY KEY,
  job_id       TEXT NOT NULL,          -- the job that went on to prepare and submit it
  claimed_at   INTEGER NOT NULL
);
)sql";

// v3: fal's own status/response/cancel URLs for the request (fal-protocol.md §2), so a
// restarted daemon follows the URLs fal gave rather than rebuilding them.
constexpr const char* kSchemaV3 = R"sql(
ALTER TABLE jobs ADD COLUMN request_urls TEXT NOT NULL DEFAULT '{}';
)sql";

constexpr const char* kSelectJob =
    "SELECT id, name, source, state, resume_state, hold_reason, attempts, next_attempt_at, "
    "spool_dir, inputs, options, content_hash, plan, uploads, endpoint, request_id, "
    "submit_intent, result, delivered_paths, error, created_at, updated_at, entered_at, "
    "request_urls FROM jobs ";

constexpr const char* kUnfinished = "state NOT IN ('delivered', 'failed', 'cancelled')";

// The duplicate guard's "in flight": another unfinished job with the same content that holds
// its content claim, or has gone past `accepted` (prepared or further, parked there included:
// it will reach fal, or is there). A job waiting as a duplicate is at `accepted` without the
// claim, so waiters never count. Both arguments are SQL expressions (a parameter or a column).
std::string in_flight_twin_query(const std::string& hash, const std::string& self) {
  const std::string past_accepted =
      "('prepared', 'uploaded', 'submitting', 'submitted', 'completed')";
  return "SELECT o.id FROM jobs o WHERE o.content_hash = " + hash + " AND o.id != " + self +
         " AND o.state NOT IN ('delivered', 'failed', 'cancelled') AND (o.id IN (SELECT "
         "c.job_id FROM content_claims c WHERE c.content_hash = " +
         hash + ") OR o.state IN " + past_accepted + " OR o.resume_state IN " + past_accepted + ")";
}

[[noreturn]] void throw_unknown_job(const JobId& id) {
  throw Error("unknown_job", "there is no job " + id, "list the jobs with `lipsyncd status`",
              Permanence::permanent);
}

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

std::string new_job_id(TimePoint now) {
  const std::int64_t millis = to_millis(now);
  const std::time_t seconds = static_cast<std::time_t>(millis / 1000);
  std::tm utc{};
  ::gmtime_r(&seconds, &utc);
  static thread_local std::mt19937 random{std::random_device{}()};
  char text[48];
  std::snprintf(text, sizeof text, "%04d%02d%02dT%02d%02d%02d.%03dZ-%06x", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(millis % 1000), static_cast<unsigned>(random() & 0xffffff));
  return text;
}

JobRecord read_job(const Statement& row) {
  JobRecord job;
  job.id = row.text(0);
  job.name = row.text(1);
  job.source = parse_job_source(row.text(2)).value_or(JobSource::same_stem);
  job.state = parse_job_state(row.text(3)).value_or(JobState::accepted);
  if (const auto resume = row.optional_text(4)) job.resume_state = parse_job_state(*resume);
  if (const auto reason = row.optional_text(5)) job.hold_reason = parse_hold_reason(*reason);
  job.attempts = static_cast<int>(row.integer(6));
  if (const auto next = row.optional_integer(7)) job.next_attempt_at = from_millis(*next);
  job.spool_dir = row.text(8);
  auto inputs = codec::decode_inputs(row.text(9));
  job.video = std::move(inputs.video);
  job.audio = std::move(inputs.audio);
  job.extras = std::move(inputs.extras);
  job.options = codec::decode_options(row.text(10));
  job.content_hash = row.text(11);
  if (const auto plan = row.optional_text(12)) job.plan = codec::decode_plan(*plan);
  if (const auto uploads = row.optional_text(13)) job.uploads = codec::decode_uploads(*uploads);
  job.endpoint = row.text(14);
  job.request_id = row.text(15);
  job.submit_intent = row.integer(16) != 0;
  if (const auto result = row.optional_text(17)) job.result = codec::decode_result(*result);
  job.delivered_paths = codec::decode_paths(row.text(18));
  if (const auto error = row.optional_text(19)) job.error = codec::decode_error(*error);
  job.created_at = from_millis(row.integer(20));
  job.updated_at = from_millis(row.integer(21));
  job.entered_at = codec::decode_entered_at(row.text(22));
  job.request_urls = codec::decode_request_urls(row.text(23));
  return job;
}

template <typename T>
std::optional<std::string> encoded(const std::optional<T>& value) {
  if (!value) return std::nullopt;
  return codec::encode(*value);
}

std::optional<std::string> state_name(const std::optional<JobState>& state) {
  if (!state) return std::nullopt;
  return std::string(to_string(*state));
}

void write_job(Database& database, const JobRecord& job) {
  auto statement = database.prepare(
      "INSERT OR REPLACE INTO jobs (id, name, source, state, resume_state, hold_reason, "
      "attempts, next_attempt_at, spool_dir, inputs, options, content_hash, plan, uploads, "
      "endpoint, request_id, submit_intent, result, delivered_paths, error, created_at, "
      "updated_at, entered_at, request_urls) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
      "?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24)");
  statement.bind(1, job.id)
      .bind(2, job.name)
      .bind(3, to_string(job.source))
      .bind(4, to_string(job.state))
      .bind(5, state_name(job.resume_state))
      .bind(6, job.hold_reason
                   ? std::optional<std::string>(std::string(to_string(*job.hold_reason)))
                   : std::nullopt)
      .bind(7, std::int64_t{job.attempts})
      .bind(8, job.next_attempt_at ? std::optional<std::int64_t>(to_millis(*job.next_attempt_at))
                                   : std::nullopt)
      .bind(9, job.spool_dir.string())
      .bind(10, codec::encode(codec::Inputs{job.video, job.audio, job.extras}))
      .bind(11, codec::encode(job.options))
      .bind(12, job.content_hash)
      .bind(13, encoded(job.plan))
      .bind(14, encoded(job.uploads))
      .bind(15, job.endpoint)
      .bind(16, job.request_id)
      .bind(17, std::int64_t{job.submit_intent ? 1 : 0})
      .bind(18, encoded(job.result))
      .bind(19, codec::encode(job.delivered_paths))
      .bind(20, encoded(job.error))
      .bind(21, to_millis(job.created_at))
      .bind(22, to_millis(job.updated_at))
      .bind(23, codec::encode(job.entered_at))
      .bind(24, codec::encode(job.request_urls));
  statement.run();
}

void append_event(Database& database, const JobId& id, TimePoint at, std::optional<JobState> from,
                  JobState to, const std::string& detail) {
  auto statement = database.prepare(
      "INSERT INTO job_events (job_id, at, from_state, to_state, detail) "
      "VALUES (?1, ?2, ?3, ?4, ?5)");
  statement.bind(1, id)
      .bind(2, to_millis(at))
      .bind(3, state_name(from))
      .bind(4, to_string(to))
      .bind(5, detail);
  statement.run();
}

std::optional<JobRecord> load_job(Database& database, const JobId& id) {
  auto query = database.prepare(std::string(kSelectJob) + "WHERE id = ?1");
  query.bind(1, id);
  if (!query.step()) return std::nullopt;
  return read_job(query);
}

std::vector<JobRecord> load_jobs(Database& database, const std::string& where,
                                 const std::function<void(Statement&)>& bind = {}) {
  auto query = database.prepare(std::string(kSelectJob) + where);
  if (bind) bind(query);
  std::vector<JobRecord> jobs;
  while (query.step()) jobs.push_back(read_job(query));
  return jobs;
}

void drop_estimate(Database& database, const JobId& id) {
  database.prepare("DELETE FROM spend WHERE job_id = ?1").bind(1, id).run();
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

// The spool file name for an input: its original name, made unique inside the job.
fs::path spool_path_for(const fs::path& inputs_dir, const fs::path& original,
                        std::set<std::string>& taken) {
  std::string name = original.filename().string();
  for (int n = 2; taken.contains(name); ++n) {
    name = std::to_string(n) + "-" + original.filename().string();
  }
  taken.insert(name);
  return inputs_dir / name;
}

// Moves an inbox file into the spool (or back). A file gone meanwhile was taken by the user.
MoveKind move_input(const fs::path& from, const fs::path& to) {
  try {
    return durable_move(from, to);
  } catch (const Error& e) {
    if (e.reason_code() != kFileVanishedReason) throw;
    throw Error("input_vanished", from.string() + " disappeared before it could be claimed",
                "the file was moved or deleted while lipsyncd took it; drop it again",
                Permanence::permanent);
  }
}

void put_back(const ClaimManifest& manifest) {
  for (const auto& file : manifest.files()) {
    std::error_code ec;
    if (fs::exists(file.path, ec) && !fs::exists(file.original_path, ec)) {
      if (!manifest.folder.empty()) fs::create_directories(file.original_path.parent_path(), ec);
      try {
        move_input(file.path, file.original_path);
      } catch (const Error&) {
        // Left in the spool folder: recovery finds it there again.
      }
    }
  }
}

}  // namespace

JobStore::JobStore(JobStoreSettings settings)
    : settings_(std::move(settings)), spool_root_(settings_.state_dir / "spool") {
  if (!settings_.clock) settings_.clock = system_now;
  // The store keeps milliseconds; records handed out must equal what a later read returns.
  settings_.clock = [clock = std::move(settings_.clock)] {
    return std::chrono::floor<std::chrono::milliseconds>(clock());
  };
  std::error_code ec;
  fs::create_directories(spool_root_, ec);
  if (ec) {
    throw Error("disk_error",
                "cannot create the spool folder " + spool_root_.string() + ": " + ec.message(),
                "check [paths] state and its permissions", Permanence::transient);
  }
  fs::permissions(settings_.state_dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  database_ = std::make_unique<Database>(settings_.state_dir / "jobs.sqlite3");
  // WAL lets `lipsyncd status` read while the daemon writes; FULL makes every commit durable
  // before the call returns, which the "persist, then act" rule relies on (a submit intent
  // lost in a power cut would mean paying twice). A few fsyncs per job cost nothing here.
  database_->exec("PRAGMA journal_mode=WAL");
  database_->exec("PRAGMA synchronous=FULL");
  const int version = database_->user_version();
  if (version > kSchemaVersion) {
    throw Error("store_too_new",
                "the job store " + database_->file().string() + " has schema version " +
                    std::to_string(version) + ", newer than this lipsyncd understands (" +
                    std::to_string(kSchemaVersion) + ")",
                "run the newer lipsyncd, or move the state folder aside");
  }
  if (version < kSchemaVersion) {
    Transaction migration(*database_);
    if (version < 1) database_->exec(kSchemaV1);
    if (version < 2) database_->exec(kSchemaV2);
    if (version < 3) database_->exec(kSchemaV3);
    database_->exec("PRAGMA user_version = " + std::to_string(kSchemaVersion));
    migration.commit();
  }
  ledger_ = std::make_unique<SpendLedger>(*database_, mutex_);
}

JobStore::~JobStore() = default;

// ── claim ────────────────────────────────────────────────────────────────────────────────

ClaimResult JobStore::claim(const JobRequest& request) {
  const TimePoint now = settings_.clock();
  ClaimManifest manifest;
  fs::path job_dir;
  // Two claims in the same millisecond differ in their random suffix; retry on a clash.
  for (int tries = 0;; ++tries) {
    manifest.id = new_job_id(now);
    job_dir = spool_root_ / manifest.id;
    std::error_code ec;
    if (fs::create_directory(job_dir, ec)) break;
    if (ec || tries > 8) {
      throw Error("disk_error", "cannot create the job folder " + job_dir.string(),
                  "check the state folder's permissions and free space", Permanence::transient);
    }
  }
  manifest.name = request.name.empty() ? request.video.stem().string() : request.name;
  manifest.source = request.source;
  manifest.folder = request.folder;
  manifest.options = JobOptions{request.model, request.sync_mode, request.output_name};
  manifest.created_at = now;
  const fs::path inputs_dir = job_dir / "inputs";
  fs::create_directory(inputs_dir);
  std::set<std::string> taken;
  manifest.video = {spool_path_for(inputs_dir, request.video, taken), request.video};
  manifest.audio = {spool_path_for(inputs_dir, request.audio, taken), request.audio};
  for (const auto& extra : request.extras) {
    manifest.extras.push_back({spool_path_for(inputs_dir, extra, taken), extra});
  }
  // The manifest is on disk before the first input moves: from here on a crash is finished
  // (or undone) by recover().
  manifest.write(job_dir);
  sync_directory(spool_root_);

  try {
    return finish_claim(manifest);
  } catch (...) {
    put_back(manifest);
    std::error_code ignored;
    fs::remove_all(job_dir, ignored);
    throw;
  }
}

ClaimResult JobStore::finish_claim(const ClaimManifest& manifest) {
  ClaimResult result;
  for (const auto& file : manifest.files()) {
    if (fs::exists(file.path)) continue;  // moved before a crash
    if (move_input(file.original_path, file.path) == MoveKind::copied) {
      result.copied_across_filesystems = true;
    }
  }
  if (!manifest.folder.empty()) {
    std::error_code not_empty;  // extra files the user left: the folder stays
    fs::remove(manifest.folder, not_empty);
  }

  JobRecord& job = result.job;
  job.id = manifest.id;
  job.name = manifest.name;
  job.source = manifest.source;
  job.state = JobState::accepted;
  job.spool_dir = manifest.video.path.parent_path().parent_path();
  job.video = manifest.video;
  job.audio = manifest.audio;
  job.extras = manifest.extras;
  job.options = manifest.options;
  job.content_hash =
      job_content_hash(job.video.path, job.audio.path,
                       job.options.model.value_or(settings_.default_model), job.options.sync_mode);
  job.created_at = manifest.created_at;
  job.updated_at = settings_.clock();
  job.entered_at[JobState::accepted] = job.updated_at;

  std::lock_guard lock(mutex_);
  Transaction transaction(*database_);
  write_job(*database_, job);
  append_event(*database_, job.id, job.updated_at, std::nullopt, JobState::accepted,
               "claimed (" + std::string(to_string(job.source)) + "): " +
                   job.video.original_path.string() + " + " + job.audio.original_path.string() +
                   (result.copied_across_filesystems ? " (copied across filesystems)" : ""));
  transaction.commit();
  return result;
}

// ── transitions ──────────────────────────────────────────────────────────────────────────

JobRecord JobStore::transition(const JobId& id, const std::string& detail,
                               const std::function<JobState(JobRecord&)>& change) {
  std::lock_guard lock(mutex_);
  Transaction transaction(*database_);
  auto job = load_job(*database_, id);
  if (!job) throw_unknown_job(id);
  const JobState from = job->state;
  const std::optional<JobState> parked_from = job->resume_state;
  const bool paid_before = job->has_paid_request();
  const JobState to = change(*job);
  // First, so that the refusal names the real danger.
  if (paid_before && (!job->has_paid_request() || is_before_submitted(to))) {
    throw_would_pay_twice(*job, to);
  }
  if (!is_allowed_transition(from, to)) throw_illegal(*job, to);
  const bool parked = from == JobState::deferred || from == JobState::held;
  const bool leaving_for_good = to == JobState::failed || to == JobState::cancelled;
  if (parked && !leaving_for_good && parked_from != to) {
    throw_illegal(*job, to);
  }
  if (to != JobState::deferred && to != JobState::held) {
    job->resume_state.reset();
    job->hold_reason.reset();
    job->next_attempt_at.reset();
  }
  const TimePoint now = settings_.clock();
  job->state = to;
  job->updated_at = now;
  job->entered_at[to] = now;
  write_job(*database_, *job);
  append_event(*database_, id, now, from, to, detail);
  transaction.commit();
  return *job;
}

JobRecord JobStore::mark_prepared(const JobId& id, const JobPlan& plan) {
  return transition(id,
                    std::string(to_string(plan.sync_mode)) + " (" + plan.reason + "), " +
                        seconds_text(plan.output_s) + ", est. " + usd_text(plan.estimated_usd),
                    [&](JobRecord& job) {
                      job.plan = plan;
                      return JobState::prepared;
                    });
}

JobRecord JobStore::mark_uploaded(const JobId& id, const JobUploads& uploads) {
  return transition(id, "inputs uploaded", [&](JobRecord& job) {
    job.uploads = uploads;
    return JobState::uploaded;
  });
}

JobRecord JobStore::mark_submitting(const JobId& id, const std::string& endpoint) {
  return transition(id, "submit intent: " + endpoint, [&](JobRecord& job) {
    if (job.state != JobState::uploaded) return JobState::submitting;  // refused below
    job.endpoint = endpoint;
    job.submit_intent = true;
    const double estimate = job.plan ? job.plan->estimated_usd : 0.0;
    // Replaces the entry of an earlier, ambiguous attempt: a job counts once.
    database_
        ->prepare(
            "INSERT OR REPLACE INTO spend (job_id, submitted_at, estimated_usd, billed_usd) "
            "VALUES (?1, ?2, ?3, NULL)")
        .bind(1, job.id)
        .bind(2, to_millis(settings_.clock()))
        .bind(3, estimate)
        .run();
    return JobState::submitting;
  });
}

JobRecord JobStore::mark_submitted(const JobId& id, const std::string& request_id,
                                   const RequestUrls& urls) {
  if (request_id.empty()) {
    throw Error("illegal_transition", "job " + id + ": submitted needs fal's request id",
                "this is a bug in lipsyncd");
  }
  return transition(id, "request_id " + request_id, [&](JobRecord& job) {
    job.request_id = request_id;
    job.request_urls = urls;
    return JobState::submitted;
  });
}

JobRecord JobStore::mark_completed(const JobId& id, const JobResult& result) {
  const std::string detail =
      result.duplicate_of ? "duplicate of " + *result.duplicate_of : "result " + result.url;
  return transition(id, detail, [&](JobRecord& job) {
    job.result = result;
    if (result.billed_usd) {
      database_
          ->prepare(
              "INSERT INTO spend (job_id, submitted_at, estimated_usd, billed_usd) "
              "VALUES (?1, ?2, ?3, ?3) ON CONFLICT(job_id) DO UPDATE SET billed_usd = ?3")
          .bind(1, job.id)
          .bind(2, to_millis(settings_.clock()))
          .bind(3, *result.billed_usd)
          .run();
    }
    return JobState::completed;
  });
}

JobRecord JobStore::mark_delivered(const JobId& id, const std::vector<fs::path>& paths) {
  std::string detail = "delivered";
  for (const auto& path : paths) detail += " " + path.string();
  return transition(id, detail, [&](JobRecord& job) {
    job.delivered_paths = paths;
    return JobState::delivered;
  });
}

JobRecord JobStore::defer(const JobId& id, const JobError& error, TimePoint retry_at,
                          AttemptCount count) {
  return transition(id, describe_error(error), [&](JobRecord& job) {
    if (job.state == JobState::submitting) {
      // The caller knows the POST never left: nothing can be billed for this attempt.
      job.submit_intent = false;
      drop_estimate(*database_, job.id);
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
  return transition(id, std::string(to_string(reason)) + ": " + message, [&](JobRecord& job) {
    if (job.state != JobState::deferred && job.state != JobState::held) {
      job.resume_state = parked_stage(job.state);
    }
    job.hold_reason = reason;
    job.error =
        JobError{std::string(to_string(*job.resume_state)), hold_reason_code(reason), message, ""};
    return JobState::held;
  });
}

JobRecord JobStore::resume(const JobId& id) {
  return transition(id, "resumed", [&](JobRecord& job) {
    if (!job.resume_state) return job.state;  // refused: not parked
    const JobState to = *job.resume_state;
    if (to == JobState::uploaded) job.submit_intent = false;
    return to;
  });
}

JobRecord JobStore::fail(const JobId& id, const JobError& error) {
  return transition(id, describe_error(error), [&](JobRecord& job) {
    if (job.state == JobState::submitting) {
      job.submit_intent = false;  // fal refused the POST: nothing is billed
      drop_estimate(*database_, job.id);
    }
    job.error = error;
    return JobState::failed;
  });
}

JobRecord JobStore::cancel(const JobId& id, const std::string& why) {
  return transition(id, "cancelled: " + why, [&](JobRecord&) { return JobState::cancelled; });
}

JobRecord JobStore::retry(const JobId& id) {
  return transition(id, "retry requested", [&](JobRecord& job) {
    if (job.state == JobState::deferred || job.state == JobState::held) {
      const JobState to = job.resume_state.value_or(JobState::accepted);
      if (to == JobState::uploaded) job.submit_intent = false;
      return to;
    }
    if (job.state == JobState::failed && job.has_paid_request()) {
      // Paid already: deliver the result it has (downloading it again when the spool copy is
      // gone), or poll fal for the request it made. Never a second submit.
      job.attempts = 0;
      job.error.reset();
      return job.result ? JobState::completed : JobState::submitted;
    }
    if (job.state == JobState::failed) {
      // Nothing paid yet: a fresh start, prepare, upload and submit again.
      job.attempts = 0;
      job.error.reset();
      job.plan.reset();
      job.uploads.reset();
      job.request_id.clear();
      job.request_urls = {};
      job.endpoint.clear();
      job.submit_intent = false;
      job.result.reset();
      return JobState::accepted;
    }
    return job.state;  // refused: not parked and not failed
  });
}

// ── queries ──────────────────────────────────────────────────────────────────────────────

std::optional<JobRecord> JobStore::find(const JobId& id) const {
  std::lock_guard lock(mutex_);
  return load_job(*database_, id);
}

JobRecord JobStore::get(const JobId& id) const {
  auto job = find(id);
  if (!job) throw_unknown_job(id);
  return *job;
}

std::vector<JobEvent> JobStore::history(const JobId& id) const {
  std::lock_guard lock(mutex_);
  auto query = database_->prepare(
      "SELECT at, from_state, to_state, detail FROM job_events WHERE job_id = ?1 ORDER BY seq");
  query.bind(1, id);
  std::vector<JobEvent> events;
  while (query.step()) {
    JobEvent event;
    event.at = from_millis(query.integer(0));
    if (const auto from = query.optional_text(1)) event.from = parse_job_state(*from);
    event.to = parse_job_state(query.text(2)).value_or(JobState::accepted);
    event.detail = query.text(3);
    events.push_back(std::move(event));
  }
  return events;
}

std::vector<JobRecord> JobStore::unfinished() const {
  std::lock_guard lock(mutex_);
  return load_jobs(*database_, std::string("WHERE ") + kUnfinished + " ORDER BY id");
}

std::vector<JobRecord> JobStore::due_deferred(TimePoint now) const {
  std::lock_guard lock(mutex_);
  return load_jobs(*database_,
                   "WHERE state = 'deferred' AND next_attempt_at <= ?1 ORDER BY next_attempt_at",
                   [&](Statement& query) { query.bind(1, to_millis(now)); });
}

std::optional<TimePoint> JobStore::next_deferred_at() const {
  std::lock_guard lock(mutex_);
  auto query = database_->prepare("SELECT MIN(next_attempt_at) FROM jobs WHERE state = 'deferred'");
  query.step();
  if (const auto millis = query.optional_integer(0)) return from_millis(*millis);
  return std::nullopt;
}

std::map<HoldReason, int> JobStore::count_held_by_reason() const {
  std::lock_guard lock(mutex_);
  auto query = database_->prepare(
      "SELECT hold_reason, COUNT(*) FROM jobs WHERE state = 'held' GROUP BY hold_reason");
  std::map<HoldReason, int> counts;
  while (query.step()) {
    const auto reason = parse_hold_reason(query.optional_text(0).value_or(""));
    counts[reason.value_or(HoldReason::operator_request)] += static_cast<int>(query.integer(1));
  }
  return counts;
}

std::map<std::string, int> JobStore::count_by_reason(JobState state,
                                                     std::optional<JobState> stage) const {
  std::lock_guard lock(mutex_);
  auto query = database_->prepare(
      std::string("SELECT COALESCE(json_extract(error, '$.reason_code'), ''), COUNT(*) FROM jobs "
                  "WHERE state = ?1") +
      (stage ? " AND resume_state = ?2" : "") + " GROUP BY 1");
  query.bind(1, std::string(to_string(state)));
  if (stage) query.bind(2, std::string(to_string(*stage)));
  std::map<std::string, int> counts;
  while (query.step()) counts[query.text(0)] += static_cast<int>(query.integer(1));
  return counts;
}

std::optional<TimePoint> JobStore::oldest_unfinished_since() const {
  std::lock_guard lock(mutex_);
  auto query =
      database_->prepare(std::string("SELECT MIN(created_at) FROM jobs WHERE ") + kUnfinished);
  query.step();
  if (const auto millis = query.optional_integer(0)) return from_millis(*millis);
  return std::nullopt;
}

std::vector<JobRecord> JobStore::held_for_budget() const {
  std::lock_guard lock(mutex_);
  return load_jobs(*database_, "WHERE state = 'held' AND hold_reason = 'budget' ORDER BY id");
}

std::optional<JobRecord> JobStore::find_delivered_duplicate(const std::string& content_hash,
                                                            std::chrono::seconds window,
                                                            const JobId& except) const {
  if (window <= std::chrono::seconds::zero() || content_hash.empty()) return std::nullopt;
  const TimePoint since = settings_.clock() - window;
  std::lock_guard lock(mutex_);
  auto jobs = load_jobs(*database_,
                        "WHERE state = 'delivered' AND content_hash = ?1 AND id != ?2 "
                        "AND updated_at >= ?3 ORDER BY updated_at DESC LIMIT 1",
                        [&](Statement& query) {
                          query.bind(1, content_hash).bind(2, except).bind(3, to_millis(since));
                        });
  if (jobs.empty()) return std::nullopt;
  return jobs.front();
}

ContentClaim JobStore::claim_content(const JobId& id, std::chrono::seconds window) {
  std::lock_guard lock(mutex_);
  Transaction transaction(*database_);
  const auto job = load_job(*database_, id);
  if (!job) throw_unknown_job(id);
  if (window <= std::chrono::seconds::zero() || job->content_hash.empty()) return {};

  // A delivered twin is reused only while its video is still in the outbox to copy from.
  const TimePoint since = settings_.clock() - window;
  for (auto& delivered :
       load_jobs(*database_,
                 "WHERE state = 'delivered' AND content_hash = ?1 AND id != ?2 "
                 "AND updated_at >= ?3 ORDER BY updated_at DESC",
                 [&](Statement& query) {
                   query.bind(1, job->content_hash).bind(2, id).bind(3, to_millis(since));
                 })) {
    std::error_code ec;
    if (!delivered.delivered_paths.empty() &&
        fs::is_regular_file(delivered.delivered_paths.front(), ec)) {
      return {ContentVerdict::reuse_delivered, std::move(delivered)};
    }
  }
  auto in_flight = load_jobs(
      *database_, "WHERE id IN (" + in_flight_twin_query("?1", "?2") + ") ORDER BY id LIMIT 1",
      [&](Statement& query) { query.bind(1, job->content_hash).bind(2, id); });
  if (!in_flight.empty()) return {ContentVerdict::wait_for_twin, std::move(in_flight.front())};

  database_
      ->prepare(
          "INSERT OR REPLACE INTO content_claims (content_hash, job_id, claimed_at) "
          "VALUES (?1, ?2, ?3)")
      .bind(1, job->content_hash)
      .bind(2, id)
      .bind(3, to_millis(settings_.clock()))
      .run();
  transaction.commit();
  return {};
}

std::vector<JobRecord> JobStore::release_duplicate_waits() {
  std::vector<JobRecord> ready;
  {
    std::lock_guard lock(mutex_);
    ready = load_jobs(*database_,
                      "WHERE state = 'held' AND hold_reason = 'duplicate_in_flight' AND NOT "
                      "EXISTS (" +
                          in_flight_twin_query("jobs.content_hash", "jobs.id") + ") ORDER BY id");
  }
  std::vector<JobRecord> released;
  for (const auto& job : ready) {
    try {
      released.push_back(
          transition(job.id, "resumed: its twin is no longer in flight",
                     [](JobRecord& parked) { return parked.resume_state.value_or(parked.state); }));
    } catch (const Error& e) {
      if (e.reason_code() != "illegal_transition") throw;  // cancelled or retried meanwhile
    }
  }
  return released;
}

std::vector<JobStatusRow> JobStore::status(std::size_t recent_finished) const {
  std::lock_guard lock(mutex_);
  auto jobs = load_jobs(*database_, std::string("WHERE ") + kUnfinished + " ORDER BY id");
  auto finished = load_jobs(
      *database_, std::string("WHERE NOT (") + kUnfinished + ") ORDER BY updated_at DESC LIMIT ?1",
      [&](Statement& query) { query.bind(1, static_cast<std::int64_t>(recent_finished)); });
  jobs.insert(jobs.end(), finished.begin(), finished.end());
  std::sort(jobs.begin(), jobs.end(),
            [](const JobRecord& a, const JobRecord& b) { return a.id < b.id; });

  const TimePoint now = settings_.clock();
  std::vector<JobStatusRow> rows;
  for (const auto& job : jobs) {
    JobStatusRow row;
    row.id = job.id;
    row.name = job.name;
    row.state = job.state;
    row.stage = job.stage();
    row.hold_reason = job.hold_reason;
    row.attempts = job.attempts;
    row.age = std::chrono::duration_cast<std::chrono::seconds>(now - job.created_at);
    row.in_state_for = std::chrono::duration_cast<std::chrono::seconds>(now - job.updated_at);
    row.next_attempt_at = job.next_attempt_at;
    row.request_id = job.request_id;
    const bool explains_state = job.state == JobState::deferred || job.state == JobState::held ||
                                job.state == JobState::failed;
    if (job.error && explains_state) {
      row.reason_code = job.error->reason_code;
      row.message = job.error->message;
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

std::map<JobState, int> JobStore::count_by_state(std::optional<TimePoint> changed_since) const {
  std::lock_guard lock(mutex_);
  auto query = database_->prepare(
      changed_since ? "SELECT state, COUNT(*) FROM jobs WHERE updated_at >= ?1 GROUP BY state"
                    : "SELECT state, COUNT(*) FROM jobs GROUP BY state");
  if (changed_since) query.bind(1, to_millis(*changed_since));
  std::map<JobState, int> counts;
  while (query.step()) {
    if (const auto state = parse_job_state(query.text(0))) {
      counts[*state] = static_cast<int>(query.integer(1));
    }
  }
  return counts;
}

// ── recovery ─────────────────────────────────────────────────────────────────────────────

std::vector<JobId> JobStore::reclaim_interrupted_claims() {
  std::vector<JobId> reclaimed;
  for (const auto& entry : fs::directory_iterator(spool_root_)) {
    const std::string id = entry.path().filename().string();
    if (!entry.is_directory() || id.starts_with(".") || find(id)) continue;
    const auto manifest = ClaimManifest::read(entry.path());
    if (!manifest) {
      // The claim died before its manifest was complete, so no input had moved yet.
      fs::remove_all(entry.path());
      continue;
    }
    bool all_present = true;
    for (const auto& file : manifest->files()) {
      all_present = all_present && (fs::exists(file.path) || fs::exists(file.original_path));
    }
    if (!all_present) {
      // Someone removed an input meanwhile: give back what is left; intake judges it again.
      put_back(*manifest);
      fs::remove_all(entry.path());
      continue;
    }
    finish_claim(*manifest);
    reclaimed.push_back(manifest->id);
  }
  return reclaimed;
}

void JobStore::sweep_spool_folders(Recovery& recovery) {
  std::vector<JobId> folders;  // listed first: tidying removes entries
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(spool_root_, ec)) {
    const std::string id = entry.path().filename().string();
    if (entry.is_directory() && !id.starts_with(".")) folders.push_back(id);
  }
  for (const auto& id : folders) {
    const auto job = find(id);
    if (!job) continue;  // an interrupted claim: reclaim_interrupted_claims() had its turn
    if (is_final(job->state)) {
      if (tidy_final_spool_folder(*job)) ++recovery.tidied_folders;
    } else {
      recovery.removed_temporaries += remove_interrupted_temporaries(job->spool_dir);
    }
  }
}

Recovery JobStore::recover() {
  Recovery recovery;
  recovery.reclaimed = reclaim_interrupted_claims();
  sweep_spool_folders(recovery);
  for (auto& job : unfinished()) {
    if (job.state == JobState::submitting) {
      // The intent was persisted and the POST may have reached fal, but no request id came
      // back. fal has no idempotency key: submitting again could pay twice. A person decides.
      recovery.needs_attention.push_back(
          hold(job.id, HoldReason::ambiguous_submit,
               "lipsyncd stopped between deciding to submit and fal's answer; check fal's "
               "dashboard, then `lipsyncd retry " +
                   job.id +
                   "` to submit again or `lipsyncd "
                   "cancel " +
                   job.id + "`"));
    } else if (job.state == JobState::held) {
      recovery.held.push_back(std::move(job));
    } else if (job.stage() == JobState::submitted) {
      recovery.poll.push_back(std::move(job));
    } else {
      recovery.resume.push_back(std::move(job));
    }
  }
  return recovery;
}

}  // namespace lipsyncd::spool
