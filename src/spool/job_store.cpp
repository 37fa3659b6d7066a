// What every job store backend shares: the settings and the clock, the spool folder, and the
// views built from the backend's queries. Claims are in job_claims.cpp, transitions in
// job_transitions.cpp, recovery in job_recovery.cpp; the backends are in sqlite/ and
// postgres/.

#include "lipsyncd/spool/job_store.hpp"

#include <algorithm>

#include "postgres/postgres_job_store.hpp"
#include "sqlite/sqlite_job_store.hpp"

namespace lipsyncd::spool {
namespace fs = std::filesystem;

JobStore::JobStore(JobStoreSettings settings)
    : settings_(std::move(settings)), spool_root_(settings_.state_dir / "spool") {
  if (!settings_.clock) settings_.clock = system_now;
  // The store keeps milliseconds; records handed out must equal what a later read returns.
  settings_.clock = [clock = std::move(settings_.clock)] {
    return std::chrono::floor<std::chrono::milliseconds>(clock());
  };
  started_at_ = settings_.clock();
  std::error_code ec;
  fs::create_directories(spool_root_, ec);
  if (ec) {
    throw Error("disk_error",
                "cannot create the spool folder " + spool_root_.string() + ": " + ec.message(),
                "check [paths] state and its permissions", Permanence::transient);
  }
  fs::permissions(settings_.state_dir, fs::perms::owner_all, fs::perm_options::replace, ec);
}

JobStore::~JobStore() = default;

void JobStore::throw_unknown_job(const JobId& id) {
  throw Error("unknown_job", "there is no job " + id, "list the jobs with `lipsyncd status`",
              Permanence::permanent);
}

JobRecord JobStore::get(const JobId& id) const {
  auto job = find(id);
  if (!job) throw_unknown_job(id);
  return *job;
}

std::vector<JobStatusRow> JobStore::status(std::size_t recent_finished) const {
  auto jobs = unfinished_and_recently_finished(recent_finished);
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
    row.node = job.lease.node;
    const bool explains_state = job.state == JobState::deferred || job.state == JobState::held ||
                                job.state == JobState::failed;
    if (job.error && explains_state) {
      row.reason_code = job.error->reason_code;
      row.message = job.error->message;
    }
    row.segment = job.segment;
    if (job.plan && job.plan->is_long_form()) {
      for (const auto& segment : segments_of(job.id)) {
        ++row.segments_total;
        if (segment.state == JobState::delivered) ++row.segments_delivered;
      }
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

std::unique_ptr<JobStore> open_job_store(JobStoreSettings settings) {
  // Any url is PostgreSQL's to judge: it refuses what is not a postgresql:// url.
  if (!settings.url.empty()) return std::make_unique<PostgresJobStore>(std::move(settings));
  return std::make_unique<SqliteJobStore>(std::move(settings));
}

}  // namespace lipsyncd::spool
