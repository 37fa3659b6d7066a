// Start-up after a crash, for every backend: interrupted claims finished or undone (see
// job_claims.cpp), leftovers swept from the spool folders, ambiguous submits parked for a
// person, and every unfinished job listed once.

#include "lipsyncd/spool/job_store.hpp"
#include "lipsyncd/spool/spool_cleanup.hpp"

namespace lipsyncd::spool {
namespace fs = std::filesystem;

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
    if (!may_take(*job)) continue;  // another live node works in it (a shared spool)
    if (is_final(job->state)) {
      if (tidy_final_spool_folder(*job)) ++recovery.tidied_folders;
      continue;
    }
    // A long-form job's segments have their folders inside its own, and may be another
    // node's: each is swept as its own job would be.
    const auto segments_folder = job->spool_dir / "segments";
    recovery.removed_temporaries += remove_interrupted_temporaries(job->spool_dir, segments_folder);
    if (!job->plan || !job->plan->is_long_form()) continue;
    for (const auto& segment : segments_of(job->id)) {
      if (is_final(segment.state) || !may_take(segment)) continue;
      recovery.removed_temporaries += remove_interrupted_temporaries(segment.spool_dir);
    }
  }
}

Recovery JobStore::recover() {
  Recovery recovery;
  recovery.reclaimed = reclaim_interrupted_claims();
  sweep_spool_folders(recovery);
  for (auto& job : unfinished()) {
    if (!may_take(job)) continue;  // another live node's: it goes on with it
    if (job.state == JobState::submitting) {
      recovery.needs_attention.push_back(hold_ambiguous_submit(job, "lipsyncd stopped"));
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
