#include "schema.hpp"

#include <chrono>
#include <string>

#include "lipsyncd/core/error.hpp"

namespace lipsyncd::spool::pg {
namespace {

// pg_advisory_xact_lock() key of the migrations (an arbitrary constant: "lipsyncd" + 1).
constexpr const char* kMigrationLockKey = "7308330541925302017";

// v1: what the SQLite store reached in its v1..v3 (jobs, job_events, spend, content_claims,
// request_urls), plus the fleet's leases and nodes. Times are ms since the epoch (BIGINT) and
// the structured columns JSON text, as in SQLite (job_record_codec.hpp, time_codec.hpp).
// Job ids sort by creation time as bytes: COLLATE "C" whatever the database's locale.
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE jobs (
  id               TEXT COLLATE "C" PRIMARY KEY,  -- sortable: creation time + random suffix
  name             TEXT NOT NULL,
  source           TEXT NOT NULL,                 -- same_stem | manifest | folder | command
  state            TEXT NOT NULL,
  resume_state     TEXT,                          -- deferred/held: the stage to continue
  hold_reason      TEXT,
  attempts         INTEGER NOT NULL DEFAULT 0,
  next_attempt_at  BIGINT,
  spool_dir        TEXT NOT NULL,
  inputs           TEXT NOT NULL,                 -- JSON: spooled paths + original paths
  options          TEXT NOT NULL,                 -- JSON: model, sync_mode, output
  content_hash     TEXT NOT NULL,
  plan             TEXT,                          -- JSON
  uploads          TEXT,                          -- JSON: fal storage URLs
  endpoint         TEXT NOT NULL DEFAULT '',
  request_id       TEXT NOT NULL DEFAULT '',
  request_urls     TEXT NOT NULL DEFAULT '{}',    -- JSON: fal's status/response/cancel URLs
  submit_intent    BOOLEAN NOT NULL DEFAULT FALSE,
  result           TEXT,                          -- JSON
  delivered_paths  TEXT NOT NULL DEFAULT '[]',
  error            TEXT,                          -- JSON: stage, reason_code, message, hint
  created_at       BIGINT NOT NULL,
  updated_at       BIGINT NOT NULL,
  entered_at       TEXT NOT NULL DEFAULT '{}',    -- JSON: state -> ms
  lease_node       TEXT NOT NULL DEFAULT '',      -- fleet: the node working on the job
  lease_token      BIGINT NOT NULL DEFAULT 0,     -- fleet: fences a node's late writes
  lease_expires_at BIGINT                         -- fleet: ms; another node may take it after
);
CREATE INDEX jobs_by_state ON jobs (state);
CREATE INDEX jobs_by_hash ON jobs (content_hash);
CREATE INDEX jobs_by_update ON jobs (updated_at);
CREATE TABLE job_events (
  seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  job_id     TEXT COLLATE "C" NOT NULL,
  at         BIGINT NOT NULL,
  from_state TEXT,
  to_state   TEXT NOT NULL,
  detail     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX job_events_by_job ON job_events (job_id, seq);
CREATE TABLE spend (
  job_id        TEXT COLLATE "C" PRIMARY KEY,
  submitted_at  BIGINT NOT NULL,                  -- the period the money counts in
  estimated_usd DOUBLE PRECISION NOT NULL,
  billed_usd    DOUBLE PRECISION
);
CREATE INDEX spend_by_time ON spend (submitted_at);
-- The duplicate guard: one job per content goes to fal at a time.
CREATE TABLE content_claims (
  content_hash TEXT PRIMARY KEY,
  job_id       TEXT COLLATE "C" NOT NULL,
  claimed_at   BIGINT NOT NULL
);
CREATE INDEX jobs_by_lease_node ON jobs (lease_node);
-- Fleet: the claim keys that make one job of a drop every node sees (JobStore::claim()).
CREATE TABLE claim_keys (
  key        TEXT PRIMARY KEY,   -- inbox-relative paths + file identities of the inputs
  job_id     TEXT COLLATE "C" NOT NULL,
  claimed_at BIGINT NOT NULL
);
CREATE INDEX claim_keys_by_time ON claim_keys (claimed_at);
-- Fleet: every node's last sign of life.
CREATE TABLE nodes (
  node         TEXT PRIMARY KEY,
  heartbeat_at BIGINT NOT NULL,
  started_at   BIGINT NOT NULL
);
)sql";

// v2: long-form jobs' segments, child jobs of their parent (JobRecord::segment): the parent's
// id to find them by, and the segment as JSON. Plans gained "segments" (JSON, no column).
constexpr const char* kSchemaV2 = R"sql(
ALTER TABLE jobs ADD COLUMN parent_id TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN segment TEXT;
CREATE INDEX jobs_by_parent ON jobs (parent_id);
)sql";

// Index i holds the step from version i to i + 1.
constexpr const char* kMigrations[] = {kSchemaV1, kSchemaV2};
static_assert(std::size(kMigrations) == kSchemaVersion);

std::int64_t now_millis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool has_migrations_table(Connection& connection) {
  return !connection.query("SELECT to_regclass('schema_migrations')").is_null(0, 0);
}

}  // namespace

int schema_version(Connection& connection) {
  if (!has_migrations_table(connection)) return 0;
  return static_cast<int>(
      connection.query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").integer(0, 0));
}

void migrate(Connection& connection) {
  Transaction migration(connection);
  connection.query("SELECT pg_advisory_xact_lock($1::bigint)", kMigrationLockKey);
  // Created only when missing: a fully migrated database needs no CREATE privilege.
  if (!has_migrations_table(connection)) {
    connection.exec(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT "
        "NULL)");
  }
  const int version = schema_version(connection);
  if (version > kSchemaVersion) {
    throw Error("store_too_new",
                "the job store database " + connection.where() + " has schema version " +
                    std::to_string(version) + ", newer than this lipsyncd understands (" +
                    std::to_string(kSchemaVersion) + ")",
                "upgrade lipsyncd on this node to the version the other nodes run");
  }
  for (int step = version; step < kSchemaVersion; ++step) {
    connection.exec_script(kMigrations[step]);
    connection.query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                     std::int64_t{step + 1}, now_millis());
  }
  migration.commit();
}

}  // namespace lipsyncd::spool::pg
