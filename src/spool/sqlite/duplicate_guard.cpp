// The SQLite backend's duplicate guard: at most one job per content goes to fal at a time,
// decided in one IMMEDIATE transaction over `jobs` and `content_claims` (see
// JobStore::claim_content()).

#include "job_rows.hpp"
#include "sqlite_job_store.hpp"
#include "time_codec.hpp"

namespace lipsyncd::spool {
namespace fs = std::filesystem;
namespace {

// The duplicate guard's "in flight": another unfinished job with the same content that holds
// its content claim, or has gone past `accepted` (prepared or further, parked there included:
// it will reach fal, or is there). A job waiting as a duplicate is at `accepted` without the
// claim, so waiters never count. Both arguments are SQL expressions (a parameter or a column).
std::string in_flight_twin_query(const std::string& hash, const std::string& self) {
  const std::string past_accepted =
      "('prepared', 'uploaded', 'submitting', 'submitted', 'segmented', 'completed')";
  return "SELECT o.id FROM jobs o WHERE o.content_hash = " + hash + " AND o.id != " + self +
         " AND o.state NOT IN ('delivered', 'failed', 'cancelled') AND (o.id IN (SELECT "
         "c.job_id FROM content_claims c WHERE c.content_hash = " +
         hash + ") OR o.state IN " + past_accepted + " OR o.resume_state IN " + past_accepted + ")";
}

}  // namespace

std::optional<JobRecord> SqliteJobStore::find_delivered_duplicate(const std::string& content_hash,
                                                                  std::chrono::seconds window,
                                                                  const JobId& except) const {
  if (window <= std::chrono::seconds::zero() || content_hash.empty()) return std::nullopt;
  const TimePoint since = now() - window;
  std::lock_guard lock(mutex_);
  auto jobs =
      sqlite::load_jobs(*database_,
                        "WHERE state = 'delivered' AND content_hash = ?1 AND id != ?2 "
                        "AND updated_at >= ?3 ORDER BY updated_at DESC LIMIT 1",
                        [&](Statement& query) {
                          query.bind(1, content_hash).bind(2, except).bind(3, to_millis(since));
                        });
  if (jobs.empty()) return std::nullopt;
  return jobs.front();
}

ContentClaim SqliteJobStore::claim_content(const JobId& id, std::chrono::seconds window) {
  std::lock_guard lock(mutex_);
  Transaction transaction(*database_);
  const auto job = sqlite::load_job(*database_, id);
  if (!job) throw_unknown_job(id);
  if (window <= std::chrono::seconds::zero() || job->content_hash.empty()) return {};

  // A delivered twin is reused only while its video is still in the outbox to copy from.
  const TimePoint since = now() - window;
  for (auto& delivered :
       sqlite::load_jobs(*database_,
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
  auto in_flight = sqlite::load_jobs(
      *database_, "WHERE id IN (" + in_flight_twin_query("?1", "?2") + ") ORDER BY id LIMIT 1",
      [&](Statement& query) { query.bind(1, job->content_hash).bind(2, id); });
  if (!in_flight.empty()) return {ContentVerdict::wait_for_twin, std::move(in_flight.front())};

  database_
      ->prepare(
          "INSERT OR REPLACE INTO content_claims (content_hash, job_id, claimed_at) "
          "VALUES (?1, ?2, ?3)")
      .bind(1, job->content_hash)
      .bind(2, id)
      .bind(3, to_millis(now()))
      .run();
  transaction.commit();
  return {};
}

std::vector<JobRecord> SqliteJobStore::duplicate_waits_without_twin() const {
  std::lock_guard lock(mutex_);
  return sqlite::load_jobs(*database_,
                           "WHERE state = 'held' AND hold_reason = 'duplicate_in_flight' AND NOT "
                           "EXISTS (" +
                               in_flight_twin_query("jobs.content_hash", "jobs.id") +
                               ") ORDER BY id");
}

}  // namespace lipsyncd::spool
