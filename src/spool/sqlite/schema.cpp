#include "schema.hpp"

#include <string>

#include "lipsyncd/core/error.hpp"

namespace lipsyncd::spool::sqlite {
namespace {

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

// v4: fleet mode's leases (JobLease), the nodes' heartbeats, and the claim keys that make one
// job of a drop every node sees. A single host keeps them too: the same code runs.
constexpr const char* kSchemaV4 = R"sql(
ALTER TABLE jobs ADD COLUMN lease_node TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN lease_token INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN lease_expires_at INTEGER;
CREATE INDEX IF NOT EXISTS jobs_by_lease_node ON jobs(lease_node);
CREATE TABLE IF NOT EXISTS nodes (
  node         TEXT PRIMARY KEY,
  heartbeat_at INTEGER NOT NULL,
  started_at   INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS claim_keys (
  key        TEXT PRIMARY KEY,         -- inbox-relative paths + file identities of the inputs
  job_id     TEXT NOT NULL,
  claimed_at INTEGER NOT NULL
);
)sql";

// v5: long-form jobs' segments, child jobs of their parent (JobRecord::segment): the parent's
// id to find them by, and the segment as JSON. Plans gained "segments" (JSON, no column).
constexpr const char* kSchemaV5 = R"sql(
ALTER TABLE jobs ADD COLUMN parent_id TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN segment TEXT;
CREATE INDEX IF NOT EXISTS jobs_by_parent ON jobs(parent_id);
)sql";

}  // namespace

std::unique_ptr<Database> open_job_database(const std::filesystem::path& file) {
  auto database = std::make_unique<Database>(file);
  // WAL lets `lipsyncd status` read while the daemon writes; FULL makes every commit durable
  // before the call returns, which the "persist, then act" rule relies on (a submit intent
  // lost in a power cut would mean paying twice). A few fsyncs per job cost nothing here.
  database->exec("PRAGMA journal_mode=WAL");
  database->exec("PRAGMA synchronous=FULL");
  const int version = database->user_version();
  if (version > kSchemaVersion) {
    throw Error("store_too_new",
                "the job store " + database->file().string() + " has schema version " +
                    std::to_string(version) + ", newer than this lipsyncd understands (" +
                    std::to_string(kSchemaVersion) + ")",
                "run the newer lipsyncd, or move the state folder aside");
  }
  if (version < kSchemaVersion) {
    Transaction migration(*database);
    if (version < 1) database->exec(kSchemaV1);
    if (version < 2) database->exec(kSchemaV2);
    if (version < 3) database->exec(kSchemaV3);
    if (version < 4) database->exec(kSchemaV4);
    if (version < 5) database->exec(kSchemaV5);
    database->exec("PRAGMA user_version = " + std::to_string(kSchemaVersion));
    migration.commit();
  }
  return database;
}

}  // namespace lipsyncd::spool::sqlite
